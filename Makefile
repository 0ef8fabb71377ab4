# Kinema: `make run` installs everything and opens the main job; `make test` installs and tests.
# Both work on a fresh machine; the virtual environment lives in .venv/.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= out

.PHONY: run test test-all lint bench render sysdeps xcb-libs display-libs screenshots clean

# The X11 libraries Qt's xcb plugin loads (libxcb-cursor0 above all: without it the window
# never opens). Installed with apt when missing and we are root; otherwise the line to run.
XCB_LIBS := libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libxcb-image0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxcb-randr0 libxcb-xinerama0
XCB_INSTALL = if command -v dpkg >/dev/null 2>&1 && ! dpkg -s $(XCB_LIBS) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing the X11 libraries Qt's xcb plugin needs..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(XCB_LIBS) >/dev/null; \
	  else \
	    echo "note: the studio window needs X11 libraries: sudo apt install $(XCB_LIBS)"; \
	  fi; \
	fi

xcb-libs:
	@$(XCB_INSTALL)

# Only where a window can open: `make run` over ssh or in CI installs nothing.
display-libs:
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ]; then $(XCB_INSTALL); fi

# System tools the tests and screenshots use: ffprobe (ffmpeg), Xvfb, xdotool, ImageMagick.
# Installed with apt when missing and we are root; otherwise only a hint is printed.
sysdeps:
	@if ! command -v ffprobe >/dev/null 2>&1 || ! command -v Xvfb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing system packages (ffmpeg, xvfb, xdotool, imagemagick)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      ffmpeg xvfb xdotool imagemagick libegl1 libgl1 libxkbcommon0 libfontconfig1 >/dev/null; \
	  else \
	    echo "note: install ffmpeg and xvfb for the full test suite and screenshots"; \
	  fi; \
	fi

# torch is pinned first so that pip does not pull a multi-GB build of a newer release.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,models,farm]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP) display-libs
	$(BIN)/kinema

render: $(STAMP)
	$(BIN)/kinema render assets/samples/Meadow.kinema -o $(OUT)/meadow.mp4

test: $(STAMP) sysdeps
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

test-all: $(STAMP) sysdeps
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -m ''

lint: $(STAMP)
	$(BIN)/ruff check engine studio tests

bench: $(STAMP)
	$(BIN)/kinema bench all

# PNGs of the studio before, during and after a previs generation, plus the Help page, for
# the README. Runs the real window under Xvfb (Qt's xcb plugin needs XCB_LIBS; without them
# Qt falls back to its offscreen renderer, which draws the same pixels).
screenshots: $(STAMP) sysdeps xcb-libs
	QT_QPA_PLATFORM="xcb;offscreen" xvfb-run -a -s "-screen 0 1920x1200x24" \
	  $(BIN)/python tools/screenshots.py screenshots

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info
