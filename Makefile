# Daily targets; dev.sh installs what is missing first.
.PHONY: run test lint bench demo migration appliance
run:
	./dev.sh run
test:
	./dev.sh test
lint:
	./dev.sh lint
bench:
	./dev.sh bench
demo:
	./dev.sh demo --no-tui
migration:
	.venv/bin/python scripts/new_migration.py "$(MSG)"
-include images/appliance/appliance.mk
