"""gunicorn's configuration for Thor, read by gunicorn from the directory it starts in.

The access log names the path, never the query string: the OAuth callback's query carries Schwab's
authorization code (`?code=…`), which must not sit in a log file. No referer either, for the same reason.
"""

accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
