"""An app that sets its logging up again after start, as Kotaemon's proposed `setup_logging()` does: it logs, clears
the root logger's handlers, configures its own with `basicConfig`, logs, configures again with `dictConfig`, logs."""

import logging
import logging.config

log = logging.getLogger("app")
log.setLevel(logging.INFO)
log.info("before the reset")
logging.getLogger().handlers.clear()
logging.basicConfig(format="LOCAL %(message)s", level=logging.INFO)
log.info("after clearing, order for alice@example.com")
logging.config.dictConfig(
    {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "DICT %(message)s"}},
        "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["err"], "level": "INFO"},
    }
)
log.info("after dictConfig")
print("app done")
