namespace ChatApp.Tests.Infrastructure;

/// <summary>
/// Installs what the tests need when it is missing (Debian's chromium and redis-server with apt-get, playwright-core
/// with npm ci), and fails loudly when it can't: these tests never skip.
/// </summary>
internal static class Prerequisites
{
    public const string Chromium = "/usr/bin/chromium";
    public const string RedisServer = "/usr/bin/redis-server";

    private static readonly SemaphoreSlim s_lock = new(1, 1);

    public static Task EnsureChromiumAsync() => EnsureDebianPackageAsync(Chromium, "chromium");

    public static Task EnsureRedisServerAsync() => EnsureDebianPackageAsync(RedisServer, "redis-server");

    /// <summary>Installs the locked playwright-core (tests/ChatApp.Tests/browser) when node_modules lacks it.</summary>
    public static async Task EnsurePlaywrightAsync()
    {
        await s_lock.WaitAsync();
        try
        {
            if (File.Exists(Path.Combine(Paths.BrowserDirectory, "node_modules", "playwright-core", "package.json")))
            {
                return;
            }

            var npm = OperatingSystem.IsWindows() ? "npm.cmd" : "npm";
            await using var install = ChildProcess.Start(npm, ["ci", "--no-audit", "--no-fund"], Paths.BrowserDirectory);
            var code = await install.WaitForExitAsync(TimeSpan.FromMinutes(5));
            if (code != 0)
            {
                throw new InvalidOperationException($"'{install.Command}' in {Paths.BrowserDirectory} failed with {code}; the browser tests need playwright-core. Its output:\n{install.Output}");
            }
        }
        finally
        {
            s_lock.Release();
        }
    }

    private static async Task EnsureDebianPackageAsync(string executable, string package)
    {
        await s_lock.WaitAsync();
        try
        {
            if (File.Exists(executable))
            {
                return;
            }

            var log = "";
            foreach (var arguments in new[] { new[] { "install", "-y", package }, ["update"], ["install", "-y", package] })
            {
                try
                {
                    await using var apt = ChildProcess.Start("apt-get", arguments, "/", new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" });
                    await apt.WaitForExitAsync(TimeSpan.FromMinutes(10));
                    log += apt.Output;
                }
                catch (InvalidOperationException e)
                {
                    log += e.Message + "\n";
                }

                if (File.Exists(executable))
                {
                    return;
                }
            }

            throw new InvalidOperationException(
                $"{executable} is missing and 'apt-get install -y {package}' did not install it (it needs root and Debian's package sources). " +
                $"Run 'bash .ci/test', which installs it, or install it by hand. apt-get said:\n{log}");
        }
        finally
        {
            s_lock.Release();
        }
    }
}
