# Windows Server 2019 (build 17763).
release      = "server-2019"
family       = "server"
image_name   = "Windows Server 2019 SERVERDATACENTER"
virtio_os    = "2k19"
memory_mib   = 4096
cpus         = 2
secure_boot  = false
test_signing = true
