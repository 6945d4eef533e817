# RTSP camera simulator (devtools/camsim.py) for trying the stack without cameras: GStreamer's Python
# bindings come from Debian's python3, so this image is plain Debian rather than python:*.
FROM debian:12.8-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
      gstreamer1.0-plugins-ugly gstreamer1.0-rtsp \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10002 camsim
WORKDIR /opt/ops
COPY devtools ./devtools
USER camsim
ENV PYTHONUNBUFFERED=1
EXPOSE 8554 8555
CMD ["python3", "-m", "devtools.camsim", "--host", "0.0.0.0", "--rtsp-port", "8554", "--control-port", "8555", \
     "--camera", "cam1=normal"]
