#!/bin/sh
# The browser for the end-to-end test of the web page (tests/web/test_browser.py): Debian's
# chromium and chromium-driver (one source package, so their versions match). Does nothing when
# both are on PATH; uses sudo when not root. Elsewhere, point the test at your own pair with
# ADVINTERP_CHROMIUM=/path/to/chrome ADVINTERP_CHROMEDRIVER=/path/to/chromedriver.
set -eu
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get here; install Chromium and a matching chromedriver yourself and set" \
       "ADVINTERP_CHROMIUM / ADVINTERP_CHROMEDRIVER (tests/web/test_browser.py)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver
