enum _ProvisioningPlaceholder {}
