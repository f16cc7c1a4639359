FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs no database; a throwaway key satisfies the production-mode check.
RUN SECRET_KEY=build-only DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput -v 0

RUN useradd --create-home slotwise
USER slotwise
EXPOSE 8000
# Workers, threads and timeouts: gunicorn.conf.py (GUNICORN_* to override).
ENV GUNICORN_ACCESS_LOG=-
CMD ["gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"]
