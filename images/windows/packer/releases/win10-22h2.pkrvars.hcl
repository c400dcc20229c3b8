# Windows 10 22H2 (build 19045): matrix/catalog/windows.json. Out of mainstream servicing (ESU).
release      = "win10-22h2"
family       = "client"
image_name   = "Windows 10 Enterprise Evaluation"
virtio_os    = "w10"
memory_mib   = 4096
cpus         = 2
secure_boot  = false
test_signing = true
