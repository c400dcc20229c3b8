# Windows Server 2025 (build 26100; its own UBR series from 2026-01: windows.md section 7). Ships OpenSSH.
release      = "server-2025"
family       = "server"
image_name   = "Windows Server 2025 SERVERDATACENTER"
virtio_os    = "2k25"
memory_mib   = 4096
cpus         = 2
secure_boot  = false
test_signing = true
