"""Settings are read once, and again after Django says one changed."""

from __future__ import annotations

from LiveData.schwab.conf import schwab_settings


def test_settings_are_kept_until_one_changes(settings):
    first = schwab_settings()
    assert schwab_settings() is first  # not rebuilt at every call
    settings.SCHWAB_HTTP_TIMEOUT = 3.5  # an override sends setting_changed
    assert schwab_settings().timeout == 3.5
