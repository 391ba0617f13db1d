# Shortcuts for the README's two commands.
demo:
	python3 -m venv .venv && .venv/bin/pip install -e ".[cpu]" && .venv/bin/advinterp demo

test:
	tools/install-chromium.sh && python3 -m venv .venv && .venv/bin/pip install -e ".[cpu,test]" && .venv/bin/python -m pytest -n 2 --dist loadfile

.PHONY: demo test
