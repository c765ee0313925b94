# VeriSOTA: one image for the web server, the workers and beat (docker-compose.yml).
# torch comes from PyTorch's index: the CPU wheel by default; the GPU worker's image is built with
# TORCH_INDEX_URL pointing at a CUDA index (see docker-compose.yml). torch stays pinned (2.13.0).
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    VAR_DIR=/var/lib/verisota MEDIA_ROOT=/var/lib/verisota/media \
    MAML_DATA_DIR=/data/omniglot

WORKDIR /app
COPY requirements.txt .
RUN pip install --index-url "$TORCH_INDEX_URL" "torch==2.13.0" \
    && pip install -r requirements.txt

COPY . .
RUN useradd --system --uid 1000 --home /app verisota \
    && mkdir -p "$VAR_DIR" "$MEDIA_ROOT" "$VAR_DIR/beat" \
    && SECRET_KEY=collectstatic-at-build-time-only python manage.py collectstatic --noinput -v 0 \
    && chown -R verisota "$VAR_DIR"
USER verisota

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--limit-request-line", "8190"]
