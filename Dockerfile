# Image of the Tierflow platform (indexer + API + dashboard) for docker-compose.yml.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY pyproject.toml README.md ./
COPY src ./src
COPY contracts ./contracts
COPY tools ./tools
# Editable: contracts/, tools/ and node_modules/ are found relative to the source tree.
RUN pip install --no-cache-dir -e . && tierflow compile
EXPOSE 8000
CMD ["tierflow", "serve", "--host", "0.0.0.0"]
