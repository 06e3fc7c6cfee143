"""Sentinel clients for a service's Redis: the logic the template's generated adapters use,
and the password file (redis_service_client.password) the Redis Cluster adapter uses too.

Versioned and released with the template (its vX.Y.Z tags); an app installs it as a
pinned requirement (README.md). See redis_service_client.sentinel for the details.
"""

from redis.sentinel import MasterNotFoundError

from redis_service_client.password import (
    PASSWORD_FILE_ENV,
    PasswordFile,
    close_idle,
    follow,
    password_file,
)
from redis_service_client.sentinel import (
    ENV_VARS,
    FollowingSentinel,
    NotConfirmed,
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
    "PASSWORD_FILE_ENV",
    "PasswordFile",
    "Settings",
    "SwitchWatcher",
    "Writer",
    "check_redis_py",
    "choose_master",
    "close_idle",
    "example",
    "follow",
    "password_file",
    "reader",
    "settings_from_env",
    "write_confirmed",
    "writer",
]
