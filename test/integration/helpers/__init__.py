"""Helpers shared by the integration tests: the pfo3 processes, raw protocol clients, RabbitMQ."""
