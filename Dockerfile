# Production image: one image for web (ASGI), worker and beat; see docker-compose.yml.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=omnichannel.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/data/media \
    HOST=0.0.0.0 \
    PORT=8000

RUN pip install --no-cache-dir uv==0.13.8 \
    && useradd --create-home --uid 10001 centro \
    && mkdir -p /data/media && chown centro /data/media

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project

COPY . .
# collectstatic needs settings, not services: placeholder URLs are never connected to here.
RUN SECRET_KEY=collectstatic DATABASE_URL=postgres://build/build REDIS_URL=redis://build:6379/0 \
    python manage.py collectstatic --noinput -v 0

USER centro
EXPOSE 8000
# uvicorn, one process per core the container may use (WEB_CONCURRENCY sets how many;
# WEB_SERVER=daphne for daphne in one process). See omnichannel/serve.py.
CMD ["python", "-m", "omnichannel.serve"]
