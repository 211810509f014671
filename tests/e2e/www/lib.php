<?php echo "lib-of-" . basename(__DIR__);
