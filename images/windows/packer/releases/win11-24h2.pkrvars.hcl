# Windows 11 24H2 (build 26100). Windows 11 wants a TPM and Secure Boot at Setup on real hardware; the
# Evaluation media installs on a Generation 2 VM without them (unverified for every ISO refresh).
release      = "win11-24h2"
family       = "client"
image_name   = "Windows 11 Enterprise Evaluation"
virtio_os    = "w11"
memory_mib   = 4096
cpus         = 2
secure_boot  = false
test_signing = true
tpm          = true
