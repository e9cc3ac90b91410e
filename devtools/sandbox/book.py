"""The sandbox's seeded book: users, their accounts and holdings, and prices that move with the clock.

Everything here is a pure function of the seed and the time, so two sandboxes with one seed agree. Numbers
are kept as Decimal and are internally consistent: a position's market value is quantity x price x
multiplier (negative for shorts), and an account's balances are sums over its positions:

    liquidationValue = cashBalance + moneyMarketFund + longMarketValue + shortMarketValue
                       + longOptionMarketValue + shortOptionMarketValue
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
PRICE_STEP_SECONDS = 5  # prices change once per step
PRICE_PERIOD_SECONDS = 600  # one full swing of the sine wave
PRICE_AMPLITUDE = 0.03  # +/- 3% around the base price
CHAIN_STRIKES = 3  # listed strikes either side of the money


@dataclass(frozen=True)
class Security:
    symbol: str
    asset_type: str  # Schwab's instrument assetType
    description: str
    base_price: Decimal
    cusip: str
    instrument_type: str | None = None  # e.g. EXCHANGE_TRADED_FUND, VANILLA, SWEEP_VEHICLE
    multiplier: Decimal = Decimal(1)
    underlying: str | None = None
    put_call: str | None = None
    maturity_date: str | None = None
    moves: bool = True  # cash equivalents hold $1.00


@dataclass
class Holding:
    security: Security
    quantity: Decimal  # signed: negative is short
    average_price: Decimal  # per share / per contract unit, as Schwab reports it
    previous_session_quantity: Decimal | None = None


@dataclass
class Account:
    account_number: str
    hash_value: str
    type: str  # MARGIN | CASH
    cash: Decimal
    holdings: list[Holding] = field(default_factory=list)


@dataclass
class User:
    username: str
    password: str
    accounts: list[Account]


EQUITIES = [
    ("AAPL", "APPLE INC", "229.87"),
    ("MSFT", "MICROSOFT CORP", "431.25"),
    ("NVDA", "NVIDIA CORP", "138.40"),
    ("AMZN", "AMAZON COM INC", "201.18"),
    ("JPM", "JPMORGAN CHASE & CO", "243.55"),
    ("KO", "COCA COLA CO", "62.91"),
    ("XOM", "EXXON MOBIL CORP", "117.06"),
    ("TSLA", "TESLA INC", "338.74"),
]
ETFS = [
    ("SPY", "SPDR S&P 500 ETF", "595.51"),
    ("QQQ", "INVESCO QQQ TRUST", "509.74"),
    ("IWM", "ISHARES RUSSELL 2000 ETF", "238.09"),
]


def _cusip(symbol: str) -> str:
    return hashlib.sha256(symbol.encode()).hexdigest()[:9].upper()


def occ_symbol(root: str, expiry: date, put_call: str, strike: Decimal) -> str:
    """Build an OCC option symbol: root padded to 6, YYMMDD, C/P, strike x1000 in 8 digits."""
    return f"{root:<6}{expiry:%y%m%d}{put_call[0]}{int(strike * 1000):08d}"


def _option(root: str, expiry: date, put_call: str, strike: Decimal, premium: str) -> Security:
    symbol = occ_symbol(root, expiry, put_call, strike)
    month = expiry.strftime("%m/%d/%Y")
    return Security(
        symbol=symbol,
        asset_type="OPTION",
        description=f"{root} {month} {strike:.2f} {'Call' if put_call == 'CALL' else 'Put'}",
        base_price=Decimal(premium),
        cusip=_cusip(symbol),
        instrument_type="VANILLA",
        multiplier=Decimal(100),
        underlying=root,
        put_call=put_call,
    )


def account_hash(seed: int, account_number: str) -> str:
    """Schwab's opaque 64-hex hashValue for an account number (stable for a seed)."""
    return hashlib.sha256(f"sandbox:{seed}:{account_number}".encode()).hexdigest().upper()


def _equity(symbol: str, description: str, price: str) -> Security:
    return Security(symbol, "EQUITY", description, Decimal(price), _cusip(symbol))


def _etf(symbol: str, description: str, price: str) -> Security:
    return Security(
        symbol, "COLLECTIVE_INVESTMENT", description, Decimal(price), _cusip(symbol), "EXCHANGE_TRADED_FUND"
    )


MUTUAL_FUND = Security("SWPPX", "MUTUAL_FUND", "SCHWAB S&P 500 INDEX", Decimal("92.41"), _cusip("SWPPX"))
TREASURY = Security(
    "912797KX4",
    "FIXED_INCOME",
    "UNITED STATES TREAS BILLS 0% 27/05/2027 USD 100",
    Decimal("98.1200"),
    "912797KX4",
    multiplier=Decimal("0.01"),  # priced per 100 of face value; quantity is face value
    maturity_date="2027-05-27T00:00:00.000+00:00",
)
SWEEP = Security(
    "MMDA1",
    "CASH_EQUIVALENT",
    "FDIC INSURED DEPOSIT ACCOUNT",
    Decimal("1.00"),
    "MMDA1",
    "SWEEP_VEHICLE",
    moves=False,
)
UNKNOWN_PRODUCT = Security(
    "XSTRUCT1", "PRODUCT", "STRUCTURED PRODUCT LINKED NOTE", Decimal("1012.50"), _cusip("XSTRUCT1")
)


def build_book(seed: int, today: date, *, fleet_users: int = 0, fleet_accounts: int = 10) -> list[User]:
    """Return the seeded users. `today` anchors option expiries so they stay in the future.

    `fleet_users` adds users fleet0001... (password "fleet-pass"), each with `fleet_accounts` small
    MARGIN accounts of five equities: a fleet for load tests and benchmarks."""
    rng = random.Random(seed)  # noqa: S311 - deterministic demo data, not security
    expiry = _third_friday(today + timedelta(days=45))
    users: list[User] = []
    for index, name in enumerate(("trader1", "trader2", "trader3"), start=1):
        margin = _account(seed, f"{index}000{rng.randint(1000, 9999)}", "MARGIN", rng)
        cash = _account(seed, f"{index}100{rng.randint(1000, 9999)}", "CASH", rng)
        stocks = rng.sample(EQUITIES, 4)
        for symbol, description, price in stocks[:3]:
            _hold(margin, _equity(symbol, description, price), rng.randint(5, 200), rng)
        short_symbol, short_description, short_price = stocks[3]
        _hold(margin, _equity(short_symbol, short_description, short_price), -rng.randint(10, 50), rng)
        etf = rng.choice(ETFS)
        _hold(margin, _etf(*etf), rng.randint(10, 60), rng)
        _hold(margin, _option("SPY", expiry, "PUT", Decimal("560"), "7.85"), rng.randint(1, 5), rng)
        _hold(margin, _option("AAPL", expiry, "CALL", Decimal("250"), "3.10"), -rng.randint(1, 3), rng)
        _hold(margin, MUTUAL_FUND, Decimal(rng.randint(50, 400)) + Decimal("0.137"), rng)
        _hold(margin, TREASURY, Decimal(rng.randint(1, 10) * 1000), rng)
        _hold(margin, SWEEP, Decimal(rng.randint(1000, 9000)), rng)
        _hold(margin, UNKNOWN_PRODUCT, Decimal(rng.randint(1, 3)), rng)

        for symbol, description, price in rng.sample(EQUITIES, 2):
            _hold(cash, _equity(symbol, description, price), rng.randint(5, 80), rng)
        _hold(cash, _etf(*rng.choice(ETFS)), rng.randint(5, 40), rng)
        _hold(cash, _option("QQQ", expiry, "CALL", Decimal("520"), "11.40"), rng.randint(1, 2), rng)
        _hold(cash, MUTUAL_FUND, Decimal(rng.randint(20, 100)), rng)
        _hold(cash, SWEEP, Decimal(rng.randint(500, 3000)), rng)
        users.append(User(name, f"{name}-pass", [margin, cash]))

    bulk = _account(seed, f"4000{rng.randint(1000, 9999)}", "MARGIN", rng)
    for number in range(500):
        symbol = f"Z{number:04d}"
        price = f"{rng.randint(500, 50000) / 100:.2f}"
        _hold(bulk, _equity(symbol, f"SANDBOX SECURITY {number}", price), rng.randint(1, 300), rng)
    empty = _account(seed, f"4100{rng.randint(1000, 9999)}", "CASH", rng)
    empty.cash = Decimal("0.00")
    users.append(User("bulk", "bulk-pass", [bulk, empty]))
    for index in range(1, fleet_users + 1):
        accounts = []
        for number in range(fleet_accounts):
            account = _account(seed, f"7{index:04d}{number:03d}", "MARGIN", rng)
            for symbol, description, price in rng.sample(EQUITIES, 5):
                _hold(account, _equity(symbol, description, price), rng.randint(1, 100), rng)
            accounts.append(account)
        users.append(User(f"fleet{index:04d}", "fleet-pass", accounts))
    return users


def option_chain(today: date) -> list[Security]:
    """The calls and puts listed on every equity and ETF the sandbox trades, at the book's expiry: strikes
    either side of the base price, each priced at its intrinsic value plus a time value that falls away
    from the money (so a call is dearer at a lower strike, a put at a higher, as spreads expect)."""
    expiry = _third_friday(today + timedelta(days=45))
    chain = []
    for symbol, _, price in [*EQUITIES, *ETFS]:
        spot = Decimal(price)
        step = Decimal(5) if spot >= 100 else Decimal(1)
        at_the_money = (spot / step).quantize(Decimal(1), ROUND_HALF_UP) * step
        for offset in range(-CHAIN_STRIKES, CHAIN_STRIKES + 1):
            strike = at_the_money + offset * step
            time_value = spot * Decimal("0.025") / (1 + abs(strike - spot) / (spot * Decimal("0.02")))
            for put_call, intrinsic in (("CALL", spot - strike), ("PUT", strike - spot)):
                premium = (max(intrinsic, Decimal(0)) + time_value).quantize(CENT, ROUND_HALF_UP)
                chain.append(_option(symbol, expiry, put_call, strike, str(premium)))
    return chain


def _account(seed: int, number: str, kind: str, rng: random.Random) -> Account:
    cash = Decimal(rng.randint(5_000_00, 80_000_00)) / 100
    return Account(number, account_hash(seed, number), kind, cash)


def _hold(account: Account, security: Security, quantity: int | Decimal, rng: random.Random) -> None:
    qty = Decimal(quantity)
    drift = Decimal(rng.randint(80, 115)) / 100 if security.moves else Decimal(1)
    average = (security.base_price * drift).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    account.holdings.append(Holding(security, qty, average, previous_session_quantity=qty))


def _third_friday(day: date) -> date:
    first = day.replace(day=1)
    offset = (4 - first.weekday()) % 7
    return first + timedelta(days=offset + 14)


def price_at(security: Security, when: datetime) -> Decimal:
    """The security's price at `when`: a deterministic sine around its base price, in steps."""
    if not security.moves:
        return security.base_price
    step = int(when.timestamp()) // PRICE_STEP_SECONDS
    phase = int(hashlib.sha256(security.symbol.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF * 2 * math.pi
    angle = 2 * math.pi * (step * PRICE_STEP_SECONDS) / PRICE_PERIOD_SECONDS + phase
    factor = Decimal(str(round(1 + PRICE_AMPLITUDE * math.sin(angle), 6)))
    quantum = Decimal("0.0001") if security.asset_type == "FIXED_INCOME" else CENT
    return (security.base_price * factor).quantize(quantum, ROUND_HALF_UP)


def previous_close(security: Security, when: datetime) -> Decimal:
    """The price at the start of `when`'s UTC day, which day P&L is measured against."""
    midnight = datetime.combine(when.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    return price_at(security, midnight - timedelta(seconds=PRICE_STEP_SECONDS))
