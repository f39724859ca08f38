"""What every Capytale service needs: settings, signed tokens, messaging, web glue, logging."""
