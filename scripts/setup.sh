#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to run saddlescope: a Vulkan driver. Without a
# hardware GPU, Mesa's software Vulkan (lavapipe, package mesa-vulkan-drivers) gives wgpu a real
# adapter. Safe to run again: it installs nothing when a Vulkan ICD is already present.
set -euo pipefail
if ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1 && ldconfig -p | grep -q 'libvulkan.so.1'; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
