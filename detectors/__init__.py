"""What sprawlscan finds: rule files (data) and the validators they name."""
