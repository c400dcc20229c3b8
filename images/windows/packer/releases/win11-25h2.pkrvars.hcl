# Windows 11 25H2 (build 26200, the same UBR series as 24H2: windows.md section 7).
release      = "win11-25h2"
family       = "client"
image_name   = "Windows 11 Enterprise Evaluation"
virtio_os    = "w11"
memory_mib   = 4096
cpus         = 2
secure_boot  = false
test_signing = true
tpm          = true
