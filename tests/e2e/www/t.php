<?php
// One probe script, copied into every tenant's folder: the test asks it to
// try one operation (?op=...&arg=...) and reports what happened as JSON.
// "ok" is true when the operation SUCCEEDED, so a cross-tenant attempt must
// come back ok=false, and the same attempt from an unconfined vhost ok=true.
header('Content-Type: application/json');
$op = $_GET['op'] ?? 'whoami';
$arg = $_GET['arg'] ?? '';
$out = ['tenant' => $_SERVER['TENANT_ID'] ?? null, 'pid' => getmypid(), 'op' => $op];
set_error_handler(function ($no, $str) use (&$out) { $out['warnings'][] = $str; return true; });
$here = __DIR__;
switch ($op) {
case 'fdscan':
    // THREATS 18: Apache's log descriptors (and whatever else the worker
    // holds) reopened by number. php://fd/N is refused by PHP itself outside
    // the CLI SAPI; /proc/self/fd/N and /dev/fd/N reopen the file behind N.
    $opened = [];
    for ($i = 0; $i < 64; $i++) {
        foreach (["php://fd/$i", "/proc/self/fd/$i", "/dev/fd/$i"] as $name) {
            $s = @fopen($name, 'r');
            if ($s === false) $s = @fopen($name, 'a');
            if ($s !== false) { $st = fstat($s); $opened[$name] = [$st['dev'], $st['ino']]; fclose($s); }
        }
    }
    $out['data'] = $opened;
    $out['ok'] = !empty($opened);
    break;
case 'pconnect':
    // THREATS 18: a persistent socket outlives the request in the worker.
    [$h, $p] = explode(':', $arg);
    $s = @pfsockopen($h, (int)$p, $en, $es, 3);
    $out['ok'] = $s !== false && @fwrite($s, ($_GET['data'] ?? 'x') . "\n") > 0;
    $out['error'] = $es;
    break;
case 'realpath_cache':
    // THREATS 19: the worker's realpath cache lists the paths earlier
    // requests (other tenants') resolved.
    $out['data'] = array_keys(realpath_cache_get());
    $out['ok'] = true;
    break;
case 'whoami':
    $out['ok'] = true;
    break;
case 'http_raw':
    // Tenant code talking to a server on this host: tcp://ADDR:PORT or
    // unix:///path, one request with the headers in h (JSON object).
    $c = @stream_socket_client($arg, $en, $es, 3);
    $out['connected'] = $c !== false;
    $out['error'] = $es;
    $out['data'] = '';
    if ($c !== false) {
        $hdr = "GET " . ($_GET['path'] ?? '/') . " HTTP/1.0\r\nHost: " . ($_GET['host'] ?? 'localhost') . "\r\n";
        foreach (json_decode($_GET['h'] ?? '{}', true) as $k => $v) { $hdr .= "$k: $v\r\n"; }
        fwrite($c, $hdr . "\r\n");
        $out['data'] = stream_get_contents($c);
        fclose($c);
    }
    $out['ok'] = $out['connected'];
    break;
case 'opcache':
    $st = @opcache_get_status(true);
    $out['status_api'] = $st !== false;
    $out['scripts'] = is_array($st) && isset($st['scripts']) ? array_keys($st['scripts']) : [];
    $out['cached'] = $arg !== '' ? @opcache_is_script_cached($arg) : null;
    $out['ok'] = true;
    break;
case 'putenv':
    $out['ok'] = putenv($arg);
    break;
case 'getenv':
    $out['data'] = getenv($arg);
    $out['ok'] = $out['data'] !== false;
    break;
case 'phpinfo':
    ob_start();
    phpinfo();
    $out['data'] = ob_get_clean();
    $out['ok'] = true;
    break;
case 'ini':
    // The settings this request runs with (TenantPHPAdminValue, php_value).
    foreach (explode(',', $arg) as $name) { $out['data'][$name] = ini_get($name); }
    $out['ok'] = true;
    break;
case 'error_log':
    $out['ok'] = error_log("tenant-log-line $arg");
    break;
case 'read':
    $r = file_get_contents($arg);
    $out['ok'] = $r !== false;
    $out['data'] = $r === false ? null : $r;
    break;
case 'write':
    $out['ok'] = file_put_contents($arg, $_GET['data'] ?? 'written') !== false;
    break;
case 'scandir':
    $r = scandir($arg);
    $out['ok'] = $r !== false;
    $out['data'] = $r;
    break;
case 'glob':
    $r = glob($arg);
    $out['ok'] = !empty($r);
    $out['data'] = $r;
    break;
case 'globstream':
    $r = [];
    try {
        foreach (new DirectoryIterator('glob://' . $arg) as $f) { $r[] = $f->getFilename(); }
    } catch (Throwable $e) { $out['error'] = $e->getMessage(); }
    $out['ok'] = !empty($r);
    $out['data'] = $r;
    break;
case 'tempnam':
    $r = tempnam($arg, 'x');
    // PHP falls back to the system temp dir when $arg is unusable: only a
    // file inside $arg counts as success.
    $out['ok'] = $r !== false && strncmp($r, $arg, strlen($arg)) === 0;
    $out['data'] = $r;
    break;
case 'symlink':
    $link = $here . '/link-' . bin2hex(random_bytes(4));
    $out['created'] = symlink($arg, $link);
    $r = file_get_contents($link);
    $out['ok'] = $r !== false;
    $out['data'] = $r === false ? null : $r;
    break;
case 'link':
    $link = $here . '/hard-' . bin2hex(random_bytes(4));
    $out['created'] = link($arg, $link);
    $r = $out['created'] ? file_get_contents($link) : false;
    $out['ok'] = $r !== false;
    break;
case 'include':
    ob_start();
    $r = include $arg;
    $out['data'] = ob_get_clean();
    $out['ok'] = $r !== false;
    break;
case 'connect':
    [$h, $p] = explode(':', $arg);
    $s = fsockopen($h, (int)$p, $en, $es, 3);
    $out['ok'] = $s !== false;
    $out['error'] = $es;
    break;
case 'connect_many':
    // Hold connections open: the tenant's max_connections caps them.
    [$h, $p, $n] = explode(':', $arg);
    $held = [];
    $errs = [];
    for ($i = 0; $i < (int)$n; $i++) {
        $s = @fsockopen($h, (int)$p, $en, $es, 3);
        if ($s === false) { $errs[] = "$en:$es"; } else { $held[] = $s; }
    }
    $out['data'] = count($held);
    $out['errors'] = $errs;
    $out['ok'] = count($held) === (int)$n;
    break;
case 'ffi':
    // THREATS 21: tenant code steering libsandbox itself through FFI.
    $ffi = FFI::cdef("int sandbox_set_tenant(const char *); int sandbox_clear_tenant(const char *);
                      const char *sandbox_current_tenant(void);");
    $out['clear'] = $ffi->sandbox_clear_tenant(null);
    $out['set'] = $ffi->sandbox_set_tenant($arg);
    $cur = $ffi->sandbox_current_tenant();
    $out['current'] = is_string($cur) ? $cur : ($cur === null ? null : FFI::string($cur));
    $out['ok'] = $out['clear'] === 0 || $out['set'] === 0;
    break;
case 'curl':
    $c = curl_init($arg);
    curl_setopt($c, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($c, CURLOPT_TIMEOUT, 3);
    $r = curl_exec($c);
    $out['ok'] = $r !== false;
    $out['error'] = curl_error($c);
    break;
case 'sendto':
    [$h, $p] = explode(':', $arg);
    $s = socket_create(AF_INET, SOCK_DGRAM, SOL_UDP);
    $n = socket_sendto($s, "ping", 4, 0, $h, (int)$p);
    $out['ok'] = $n === 4;
    $out['error'] = socket_strerror(socket_last_error($s));
    break;
case 'shell':
    $r = shell_exec('echo exec-worked');
    $out['ok'] = is_string($r) && strpos($r, 'exec-worked') !== false;
    break;
case 'proc_open':
    $p = proc_open(['/bin/echo', 'exec-worked'], [1 => ['pipe', 'w']], $pipes);
    $r = '';
    if (is_resource($p)) { $r = stream_get_contents($pipes[1]); fclose($pipes[1]); proc_close($p); }
    $out['ok'] = strpos($r, 'exec-worked') !== false;
    break;
case 'setrlimit_cat':
    // Lower the worker's own limit (PHP's posix_setrlimit), then start a
    // listed program: its loader must never run it without libsandbox.
    $out['setrlimit'] = @posix_setrlimit(POSIX_RLIMIT_AS, (int)($_GET['bytes'] ?? 33554432), (int)($_GET['bytes'] ?? 33554432));
    $p = proc_open(['/bin/cat', $arg], [1 => ['pipe', 'w']], $pipes);
    $r = '';
    if (is_resource($p)) { $r = stream_get_contents($pipes[1]); fclose($pipes[1]); $out['status'] = proc_close($p); }
    $out['data'] = $r;
    $out['ok'] = $r !== '';
    break;
case 'proc_cat':
    // A permitted program run through proc_open's pipes: it must work, and
    // it runs as the same tenant (reading $arg must follow the tenant's rules).
    // stderr is not redirected: the child's denial lines reach the ErrorLog.
    $p = proc_open(['/bin/cat', $arg], [1 => ['pipe', 'w']], $pipes);
    $r = '';
    if (is_resource($p)) {
        $r = stream_get_contents($pipes[1]); fclose($pipes[1]);
        $out['status'] = proc_close($p);
    }
    $out['data'] = $r;
    $out['ok'] = $r !== '' && ($out['status'] ?? 1) === 0;
    break;
case 'mail':
    $out['ok'] = mail('nobody@example.invalid', 'subject', 'body');
    break;
case 'kill':
    $out['ok'] = posix_kill((int)$arg, 0);
    $out['error'] = posix_strerror(posix_get_last_error());
    break;
case 'session_write':
    session_start();
    $_SESSION['v'] = $arg;
    $out['ok'] = true;
    $out['data'] = session_id();
    $out['path'] = session_save_path();
    break;
case 'session_read':
    session_start();
    $out['data'] = $_SESSION['v'] ?? null;
    $out['ok'] = isset($_SESSION['v']);
    break;
case 'sleep':
    ignore_user_abort(true);
    sleep((int)$arg);
    $out['ok'] = true;
    break;
case 'fatal':
    undefined_function_for_the_test();
    break;
case 'timeout':
    set_time_limit(1);
    for (;;) { }
case 'late':
    // Tenant code that runs after the script: a shutdown function and a
    // destructor. Each records whether it could still write its own folder
    // and whether it could read another tenant's file ($arg).
    $probe = function (string $who) use ($arg, $here) {
        $other = @file_get_contents($arg) !== false;
        @file_put_contents("$here/late-$who.json",
            json_encode(['tenant' => $_SERVER['TENANT_ID'] ?? null, 'other_readable' => $other]));
    };
    register_shutdown_function(function () use ($probe) { $probe('shutdown'); });
    $GLOBALS['late_object'] = new class($probe) {
        private $p;
        function __construct($p) { $this->p = $p; }
        function __destruct() { ($this->p)('destructor'); }
    };
    ob_start(function ($buf) use ($probe) { $probe('output'); return $buf; });
    $out['ok'] = true;
    break;
default:
    $out['error'] = 'unknown op';
}
echo json_encode($out);
