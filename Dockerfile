# Helpline service image: slim, runs as an unprivileged user, `helpline run` by default.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY channels ./channels
COPY router ./router
COPY faq ./faq
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HELPLINE_CONFIG=/app/config/helpline.yaml \
    HELPLINE_HTTP_HOST=0.0.0.0
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin helpline
WORKDIR /app
# The operator's files: mount your own over /app/config to change FAQ, texts and settings.
COPY --chown=helpline:helpline config ./config
USER helpline
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["helpline", "run"]
