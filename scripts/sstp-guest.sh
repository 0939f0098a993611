#!/usr/bin/env bash
# Builds the small Linux guest that vnetgw's SSTP interop test boots with
# qemu: Debian's sstp-client (sstpc) and pppd, the stack a Linux user would
# point at a gateway's point-to-site server. This host's kernel has no PPP,
# so the client runs in a VM: the host's Debian kernel and an initramfs
# that is the whole root filesystem. Root, Debian or Ubuntu with apt.
#
# Usage: scripts/sstp-guest.sh [DIR]   (default /var/cache/vnetgw/sstp-guest)
# Output: DIR/vmlinuz and DIR/initrd.img; rebuilt only when missing.
set -euo pipefail
OUT=${1:-${VNETGW_SSTP_GUEST:-/var/cache/vnetgw/sstp-guest}}
[ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ] && { echo "sstp guest: $OUT is built"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "sstp-guest.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
for tool in qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap cpio:cpio depmod:kmod busybox:busybox; do
  command -v "${tool%%:*}" >/dev/null || missing="${missing:-} ${tool#*:}"
done
if [ -n "${missing:-}" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

echo "sstp guest: debootstrap $suite from $mirror"
debootstrap --variant=minbase --include=ppp,sstp-client,iproute2,iputils-ping,kmod,busybox \
  "$suite" "$work/root" "$mirror" > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }

# The kernel: the host's Debian kernel package, with the modules the guest
# needs (virtio network and 9p to share files with the host, PPP).
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
kver=${kpkg#linux-image-}
(cd "$work" && apt-get download "$kpkg" >/dev/null 2>&1)
dpkg-deb -x "$work/${kpkg}"_*.deb "$work/kernel"
depmod -b "$work/kernel" "$kver"
for m in virtio_pci virtio_net 9pnet_virtio 9p ppp_generic ppp_async; do
  modprobe -d "$work/kernel" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" {print $2}' | sort -u | while read -r f; do
  rel=${f#"$work/kernel/"}
  mkdir -p "$work/root/$(dirname "$rel")"
  cp "$f" "$work/root/$rel"
done
cp "$work/kernel/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$work/root/lib/modules/$kver/"
depmod -b "$work/root" "$kver"
rm -rf "$work/root"/usr/share/{doc,man,locale,info}/* "$work/root"/var/cache/apt/* "$work/root"/var/lib/apt/lists/*

# /init: network on eth0 (192.0.2.2/24 unless vnetgw.ip= says otherwise),
# the host's directory on /mnt/host (9p), run /mnt/host/run.sh with its
# output in /mnt/host/output and status in /mnt/host/status, power off.
cat > "$work/root/init" <<'INIT'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp /mnt/host
mount -t devpts -o mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock /run/sstpc
modprobe -a virtio_pci virtio_net 9pnet_virtio 9p ppp_generic ppp_async
ip=192.0.2.2/24
for a in $(cat /proc/cmdline); do case "$a" in vnetgw.ip=*) ip=${a#*=} ;; esac; done
ip link set lo up; ip addr add "$ip" dev eth0; ip link set eth0 up
mount -t 9p -o trans=virtio,version=9p2000.L host /mnt/host
( sh /mnt/host/run.sh </dev/null > /mnt/host/output 2>&1; echo $? > /mnt/host/status )
sync; umount /mnt/host; busybox poweroff -f
INIT
chmod 755 "$work/root/init"

mkdir -p "$OUT"
(cd "$work/root" && find . -mount | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$OUT/initrd.img.tmp"
cp "$work/kernel/boot/vmlinuz-$kver" "$OUT/vmlinuz"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
echo "sstp guest: built in $OUT (kernel $kver, $(du -h "$OUT/initrd.img" | cut -f1) initramfs)"
