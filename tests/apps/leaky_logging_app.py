"""An app that logs personal data and a secret (in text, in a dict body, in list attributes), and prints its own log
lines to stderr."""

import logging

logging.basicConfig(format="LOCAL %(message)s", level=logging.INFO)
log = logging.getLogger("shop")
log.setLevel(logging.INFO)
log.info("order for alice@example.com paid with 4111 1111 1111 1111")
log.info(
    {"customer": "jane.doe@example.com", "card": "4111 1111 1111 1111"},
    extra={"recipients": ["jane.doe@example.com", "ops@example.org"], "cards": ["4111 1111 1111 1111"]},
)
try:
    raise RuntimeError("upstream rejected key sk-live-abcdefghijklmnopqrstuvwx")
except RuntimeError:
    log.exception("payment failed")
print("app done")
