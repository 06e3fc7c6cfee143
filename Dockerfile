# The scheduled rotation runner's image (a generated repository's rotation_image): the
# redis-scaffold command and nothing else, run as a non-root user. The CronJob
# (manifest/components/redis-rotation) sets the command and the environment:
#   redis-scaffold secret rotate --from-env --wait SECONDS --poll SECONDS
# A platform team builds it from a release tag, pushes it and gives service teams its
# digest (README.md, "The rotation runner's image"):
#   docker buildx build --pull --platform linux/amd64,linux/arm64 \
#     --build-arg PYTHON_IMAGE=python:3.11.7-slim-bookworm@sha256:<digest> \
#     -t registry.example.com/platform/redis-scaffold:v0.3.0 --push .
#   docker buildx imagetools inspect registry.example.com/platform/redis-scaffold:v0.3.0
# Pin the base by digest with the build argument (the template cannot know the digest
# of every team's mirror; the same reasoning as redis_image_digest).
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY . .
# The package with its base dependencies only (boto3, redis-py, copier, PyYAML): no
# sandbox, portal or test extras; the template folders ship as package data.
RUN python -m venv /opt/redis-scaffold \
    && /opt/redis-scaffold/bin/pip install --no-cache-dir --no-compile . \
    && /opt/redis-scaffold/bin/redis-scaffold secret rotate --help > /dev/null

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/redis-scaffold /opt/redis-scaffold
ENV PATH=/opt/redis-scaffold/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The CronJob's UID and GID (container_uid); no passwd entry is needed, no home is written.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["redis-scaffold"]
CMD ["--help"]
