FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config default-libmysqlclient-dev build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-mysql.txt ./
RUN pip install --no-cache-dir -r requirements.txt -r requirements-mysql.txt
COPY . .
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["python", "-m", "project.serve", "-b", "0.0.0.0", "-p", "8000", "project.asgi:application"]
