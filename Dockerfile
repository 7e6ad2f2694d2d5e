# twimbot in a container. Not built by this repository's CI (the machine it is developed on
# has no container engine); what it installs is the same wheel `pip install .` builds, which
# is tested. See docs/operating.md ("Container").
#
#   docker build -t twimbot .
#   docker run -d --name twimbot --restart on-failure \
#     -v twimbot-data:/data -v "$PWD/twimbot.yaml:/data/twimbot.yaml:ro" \
#     --env-file twimbot.env twimbot
#
# /data holds the config (mounted read-only), the database and the media; in twimbot.yaml
# use relative paths (database: twimbot.db, media.dir: media), which resolve next to it.

FROM python:3.11-slim AS build
WORKDIR /src
# Only what the wheel needs (see .dockerignore): the package, its migrations, the metadata.
COPY pyproject.toml README.md ./
COPY migrations ./migrations
COPY twimbot ./twimbot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# tzdata comes as a Python dependency; no compiler or system library is needed at runtime.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin twimbot \
 && install -d -o twimbot -g twimbot -m 0700 /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels twimbot \
 && rm -rf /wheels
USER twimbot
WORKDIR /data
VOLUME ["/data"]
ENV PYTHONUNBUFFERED=1
# Logs go to stderr (docker logs); secrets come from the environment (--env-file):
# TWIMBOT_ACCESS_TOKEN, or TWIMBOT_PASSWORD for a one-time login.
ENTRYPOINT ["twimbot"]
CMD ["run", "-c", "/data/twimbot.yaml"]
# SIGTERM (docker stop) lets the bot finish its batch and close the database.
STOPSIGNAL SIGTERM
