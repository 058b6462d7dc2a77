# Production image: one image for web (ASGI), worker and beat; see docker-compose.yml.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=omnichannel.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/data/media

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
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "omnichannel.asgi:application"]
