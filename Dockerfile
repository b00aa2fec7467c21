# One image for the three services; SERVICE picks which one runs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
WORKDIR /app

COPY pyproject.toml README.md ./
COPY services ./services
COPY config ./config
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 refhub \
 && mkdir -p /data && chown refhub /data && chmod 700 /data

USER refhub
ENV REFHUB_DATA_DIR=/data SERVICE=referrals
ENV SERVICE_CLASS=ReferralsService
CMD ["sh", "-c", "exec nameko run --config config/${SERVICE}.yaml services.${SERVICE}.service:${SERVICE_CLASS}"]
