#!/usr/bin/env bash
# Build MediaNest's image and prove it works, on a machine that reaches Debian's and PyPI's package servers
# but no image registry: a Debian 12 base made with debootstrap (python3, venv, CA certificates), imported
# into podman, then the Dockerfile built on it, started, and asked for /health, the demo library, a Range
# of a file and a transcode. Run as root (debootstrap, rootful podman):
#
#   bash deploy/container-check.sh
#
# MEDIANEST_CHECK_CACHE keeps the debootstrapped base between runs (default /var/tmp/medianest-check).
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${MEDIANEST_CHECK_CACHE:-/var/tmp/medianest-check}"
base=localhost/medianest-base:bookworm
image=localhost/medianest:check
port="${MEDIANEST_CHECK_PORT:-18080}"
step() { printf '\n== %s\n' "$*"; }

for tool in podman debootstrap curl python3; do
    command -v "$tool" >/dev/null || apt-get install -y -q podman debootstrap curl >/dev/null
done

if ! podman image exists "$base"; then
    step "debootstrap a Debian 12 base into $cache/rootfs"
    rm -rf "$cache/rootfs" && mkdir -p "$cache"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$cache/rootfs" \
        http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log"; exit 1; }
    rm -rf "$cache/rootfs/var/cache/apt/archives/"*.deb "$cache/rootfs/var/lib/apt/lists/"*
    tar -C "$cache/rootfs" -c . | podman import - "$base" >/dev/null
fi

step "build $image on $base"
# The host's CA bundle goes into the build (not the image): this machine reaches PyPI through a
# TLS-inspecting proxy whose CA only the host trusts.
# chroot isolation: RUN steps need no cgroups (this VM's hybrid cgroup layout is one crun refuses).
time podman build --isolation chroot --network host --build-arg BASE="$base" --build-arg UV_SYSTEM_CERTS=true --format docker \
    --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro -t "$image" . \
    >"$cache/build.log" 2>&1 || { tail -30 "$cache/build.log"; exit 1; }
podman image inspect "$image" --format 'image size: {{.Size}} bytes, user {{.Config.User}}, healthcheck {{.Config.Healthcheck.Test}}'

step "run it with the demo library"
# Started with podman when this machine's kernel lets crun set the container's limits; in the VMs here it
# refuses (setrlimit: Operation not permitted), so the image's own root filesystem runs in a chroot instead,
# with the image's environment, user, entry point and command: everything but the runtime.
podman rm -f medianest-check >/dev/null 2>&1 || true
if podman run -d --cgroups=disabled --health-interval=disable --name medianest-check \
        -p "127.0.0.1:$port:8080" "$image" serve --demo >/dev/null 2>"$cache/run.log"; then
    trap 'podman rm -f medianest-check >/dev/null 2>&1 || true' EXIT
    in_image() { podman exec medianest-check "$@"; }
    runtime=podman
else
    echo "podman run refused here: $(tail -1 "$cache/run.log")"
    podman rm -f medianest-check >/dev/null 2>&1 || true
    root=$(podman image mount "$image")
    trap 'kill $(cat "$cache/pid" 2>/dev/null) 2>/dev/null; sleep 1; umount "$root/proc" "$root/dev" "$root/data" "$root/media" "$root/tmp" 2>/dev/null; podman image unmount "$image" >/dev/null' EXIT
    # The image's layers are mounted read-only: its volumes (and /tmp) get folders of their own, as a
    # container's would.
    rm -rf "$cache/volumes" && mkdir -p "$cache/volumes/data" "$cache/volumes/media" "$cache/volumes/tmp"
    chown 1000:1000 "$cache/volumes/data" "$cache/volumes/media" && chmod 1777 "$cache/volumes/tmp"
    mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev"
    for v in data media tmp; do mount --bind "$cache/volumes/$v" "$root/$v"; done
    env_args=$(podman image inspect "$image" --format '{{range .Config.Env}}{{.}} {{end}}')
    user=$(podman image inspect "$image" --format '{{.Config.User}}')
    entry=$(podman image inspect "$image" --format '{{join .Config.Entrypoint " "}}')
    # shellcheck disable=SC2086  # the image's env is words of NAME=value
    env -i $env_args MEDIANEST_PORT="$port" MEDIANEST_HOST=127.0.0.1 \
        chroot --userspec="$user:$user" "$root" $entry serve --demo >"$cache/serve.log" 2>&1 &
    echo $! >"$cache/pid"
    in_image() { env -i $env_args MEDIANEST_PORT="$port" chroot --userspec="$user:$user" "$root" "$@"; }
    runtime=chroot
fi
url="http://127.0.0.1:$port"
for _ in $(seq 1 90); do curl -sf "$url/health" >/dev/null && break; sleep 1; done
curl -sf -o /dev/null -w "GET /health -> %{http_code}\n" "$url/health"
echo "runs as: $(in_image id) ($runtime)"
token=$(curl -sf -X POST "$url/api/v1/auth/setup" -H 'content-type: application/json' \
    -d '{"username": "admin", "password": "container-check-password"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["access_token"])')
for _ in $(seq 1 30); do
    items=$(curl -sf "$url/api/v1/media?per_page=100" -H "authorization: Bearer $token")
    [ "$(echo "$items" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["data"]))')" -gt 0 ] && break
    sleep 1
done
stream=$(echo "$items" | python3 -c 'import json, sys; print(next(m["stream_url"] for m in json.load(sys.stdin)["data"] if m["kind"] == "audio"))')
curl -sf -o /dev/null -H 'range: bytes=0-1023' -w "GET a Range of an item -> %{http_code}, %{size_download} bytes\n" "$url$stream"
curl -sf -o "$cache/out.opus" -w "GET the item transcoded to Opus -> %{http_code}, %{size_download} bytes\n" "$url$stream&format=opus&bitrate=96"
# The image's HEALTHCHECK command, run now inside it (podman schedules it with systemd timers, which
# these VMs have not).
health=$(podman image inspect "$image" --format '{{json .Config.Healthcheck.Test}}' | python3 -c 'import json, sys; print(json.load(sys.stdin)[-1])')
in_image python3 -c "$health" && echo "HEALTHCHECK -> healthy"
step "container check passed"
