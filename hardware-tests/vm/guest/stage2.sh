#!/bin/sh
# Stage 2, run by the initramfs in the overlay root (the host's / read-only plus a tmpfs): load
# the USB and control-channel modules, start udevd (the `usb` package's hotplug listens to udev's
# netlink re-broadcast, and serialport's list() asks udevadm), run the job with the host's node
# in the project folder, write its exit status to the job folder, power off.
# Copied into each job folder by the runner (runner.ts), so editing it needs no rebuild.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
J=/vmjob
mark() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >> $J/timeline; }
finish() {
  echo "$1" > $J/status.tmp && mv $J/status.tmp $J/status
  sync
  echo o > /proc/sysrq-trigger
  # init must not exit before the power-off lands (that would panic)
  exec /bin/busybox sleep 60
}
mark stage2

mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/udev /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# The host's /tmp is a lower layer: the guest writes its own (tsx's compile cache stays warm
# from the host's, read through the overlay).
hostname usbvm 2>/dev/null
# The job's settings (VM_EXTRA_MODULES, VM_UDEV, VM_REPO, ...) before anything that reads them.
. $J/env.sh

for m in virtio_console xhci_pci usbserial ftdi_sio $VM_EXTRA_MODULES; do
  modprobe "$m" 2>> $J/stage2.log || echo "stage2: modprobe $m failed" >> $J/stage2.log
done
mark modules

if [ "${VM_UDEV:-1}" = 1 ]; then
  /usr/lib/systemd/systemd-udevd --daemon --resolve-names=never 2>> $J/stage2.log
  udevadm trigger --action=add --subsystem-match=usb --subsystem-match=tty --subsystem-match=virtio-ports 2>> $J/stage2.log
  udevadm settle -t 20 2>> $J/stage2.log
fi
mark udev

cd "$VM_REPO" || finish 125
mark job-start
if [ -n "$VM_SHELL" ]; then
  /bin/sh -c "$VM_SHELL" > $J/job.log 2>&1
else
  node $VM_NODE_OPTS "$VM_JOB" > $J/job.log 2>&1
fi
rc=$?
mark job-end
dmesg > $J/dmesg.log 2>/dev/null
finish $rc
