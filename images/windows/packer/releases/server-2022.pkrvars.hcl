# Windows Server 2022 (build 20348).
release      = "server-2022"
family       = "server"
image_name   = "Windows Server 2022 SERVERDATACENTER"
virtio_os    = "2k22"
memory_mib   = 4096
cpus         = 2
secure_boot  = false
test_signing = true
