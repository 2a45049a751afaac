#!/usr/bin/env bash
# Fails with a clear message, instead of a GLFW stack trace, when there is no display to open a window on.
case "$(uname -s)" in
  Linux|*BSD)
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
      cat >&2 <<'MSG'
oncofed: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the desktop app
cannot open its window. Do one of:
  - run it from a graphical desktop session;
  - over SSH, use X forwarding: ssh -X host, then make run;
  - on a headless machine, use a virtual display:
      sudo apt-get install -y xvfb xauth && xvfb-run -a make run
  - or use the headless client instead: bin/oncofed-cli --help
MSG
      exit 1
    fi ;;
esac
