# Image for the hub and the edge agent (one image, two commands): docker-compose.yml builds it once.
# Built from the repository root: docker build -f docker/app.Dockerfile .
FROM python:3.11.11-slim-bookworm

# ffmpeg: audio processing for broadcasts; postgresql-client: pg_dump/psql for `python -m hub backup|restore`
# against PostgreSQL. The hub and the agent never need a compiler at run time.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg postgresql-client tzdata fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /home/ops --uid 10001 ops
WORKDIR /opt/ops

# Dependencies first (cached layer), exactly as locked (versions and hashes: requirements.lock, made by
# pip-compile from pyproject.toml), then the code without resolving anything again.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml ./
COPY contract ./contract
COPY hub ./hub
COPY device_runtime ./device_runtime
COPY edge_agent ./edge_agent
COPY broadcast ./broadcast
COPY devtools ./devtools
RUN pip install --no-cache-dir --no-deps .

RUN mkdir -p /data && chown ops:ops /data
USER ops
ENV PYTHONUNBUFFERED=1 TZ=Asia/Ho_Chi_Minh
VOLUME ["/data"]
EXPOSE 8080
CMD ["python", "-m", "hub", "--config", "/etc/ops/hub.yaml", "run"]
