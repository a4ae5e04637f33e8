# dcabot in a container: the webhook app (/webhook/*, /health, /charts) and the scheduler on
# port 8080, its files in the /data volume. Only the project's own `pip install` (wheels), so the
# same file builds on linux/amd64 and linux/arm64 (a Raspberry Pi on a 64-bit OS).
#   docker build -t dcabot .     or     docker compose up -d   (see compose.yaml, README)

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY strategies ./strategies
COPY storage ./storage
COPY flex_templates ./flex_templates
RUN /opt/venv/bin/pip install --no-cache-dir . \
    && /opt/venv/bin/dcabot --version

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DCABOT_DATA_DIR=/data \
    DCABOT_MASTER_KEY_FILE=/keys/master.key \
    MPLCONFIGDIR=/tmp/matplotlib
# A user of its own (not root); /data is its private folder (0700), copied into a new volume;
# /keys holds the master key apart from the data, so a backup of /data never carries it.
RUN groupadd --system --gid 10001 dcabot \
    && useradd --system --uid 10001 --gid dcabot --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin dcabot \
    && install -d -m 0700 -o dcabot -g dcabot /data /keys
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /data
VOLUME ["/data", "/keys"]
EXPOSE 8080
# /health is 200 when the database answers and the scheduler is fine, else 503 (urlopen raises).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]
# --headless: never the terminal as the chat; without a chat token it still runs the scheduler,
# /health and /metrics (talk to it with `docker compose exec dcabot dcabot chat`).
CMD ["dcabot", "run", "--headless", "--host", "0.0.0.0", "--port", "8080"]
