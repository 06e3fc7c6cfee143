"""Sentinel clients for a service's Redis: the logic the template's generated adapters use.

Versioned and released with the template (its vX.Y.Z tags); an app installs it as a
pinned requirement (README.md). See redis_service_client.sentinel for the details.
"""

from redis.sentinel import MasterNotFoundError

from redis_service_client.sentinel import (
    ENV_VARS,
    FollowingSentinel,
    NotConfirmed,
    PasswordFile,
    Settings,
    SwitchWatcher,
    Writer,
    check_redis_py,
    choose_master,
    example,
    reader,
    settings_from_env,
    write_confirmed,
    writer,
)

__version__ = "0.3.0"

__all__ = [
    "ENV_VARS",
    "FollowingSentinel",
    "MasterNotFoundError",
    "NotConfirmed",
    "PasswordFile",
    "Settings",
    "SwitchWatcher",
    "Writer",
    "check_redis_py",
    "choose_master",
    "example",
    "reader",
    "settings_from_env",
    "write_confirmed",
    "writer",
]
