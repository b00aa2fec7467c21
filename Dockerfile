# One image for the three services and the portal; SERVICE picks which one runs.
# The portal's CSS: GOV.UK Frontend compiled with the group's colours and the system font.
FROM node:20-slim AS portal-assets
WORKDIR /portal
COPY services/portal/package.json services/portal/package-lock.json ./
COPY services/portal/styles ./styles
RUN npm ci --no-audit --no-fund && npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
WORKDIR /app

COPY pyproject.toml README.md ./
COPY services ./services
COPY --from=portal-assets /portal/static/build ./services/portal/static/build
COPY --from=portal-assets /portal/node_modules/govuk-frontend/dist/govuk/assets ./services/portal/node_modules/govuk-frontend/dist/govuk/assets
COPY config ./config
RUN pip install --no-cache-dir . \
 && useradd --system --uid 10001 refhub \
 && mkdir -p /data && chown refhub /data && chmod 700 /data

USER refhub
ENV REFHUB_DATA_DIR=/data SERVICE=referrals
ENV SERVICE_CLASS=ReferralsService
CMD ["sh", "-c", "exec nameko run --config config/${SERVICE}.yaml services.${SERVICE}.service:${SERVICE_CLASS}"]
