using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace WebSockets.Tests.TypeScriptClient;

/// <summary>Runs node and npm for the TypeScript client's tests; a missing or too old node fails, never skips.</summary>
internal static partial class NodeRunner
{
    public const int MinimumNodeMajor = 20;

    /// <summary>The TypeScript client's package directory, src/client-ts, found above the test binaries.</summary>
    public static string PackageDirectory { get; } = FindPackageDirectory();

    /// <summary>npm is a .cmd script on Windows, which Process.Start only finds with its extension.</summary>
    public static string Npm => OperatingSystem.IsWindows() ? "npm.cmd" : "npm";

    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = PackageDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        var command = $"{fileName} {string.Join(' ', start.ArgumentList)}";
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"Could not start '{command}': {e.Message}. The TypeScript client's tests need Node.js >= {MinimumNodeMajor} and npm on PATH " +
                "(Debian: apt-get install nodejs npm).", e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"'{command}' did not finish within {timeout}. Its output:\n{Text(output)}");
        }

        // The parameterless overload waits for the redirected streams to be read to their end.
        await process.WaitForExitAsync();
        return new ProcessResult(command, process.ExitCode, Text(output));
    }

    /// <summary>Fails with a clear message unless node >= 20 and npm can run.</summary>
    public static async Task<Version> RequireNodeAsync()
    {
        var node = await RunAsync("node", ["--version"], TimeSpan.FromSeconds(30));
        var match = NodeVersion().Match(node.Output);
        if (node.ExitCode != 0 || !match.Success)
        {
            throw new InvalidOperationException($"'node --version' failed ({node.ExitCode}): {node.Output}");
        }

        var version = new Version(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        if (version.Major < MinimumNodeMajor)
        {
            throw new InvalidOperationException($"The TypeScript client's tests need Node.js >= {MinimumNodeMajor}; found {node.Output.Trim()}.");
        }

        var npm = await RunAsync(Npm, ["--version"], TimeSpan.FromSeconds(60));
        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"'npm --version' failed ({npm.ExitCode}): {npm.Output}");
        }

        return version;
    }

    /// <summary>Installs the locked devDependencies (TypeScript) when node_modules is missing.</summary>
    public static async Task EnsureInstalledAsync()
    {
        if (File.Exists(Path.Combine(PackageDirectory, "node_modules", "typescript", "package.json")))
        {
            return;
        }

        (await RunAsync(Npm, ["ci", "--no-audit", "--no-fund"], TimeSpan.FromMinutes(5))).EnsureSuccess();
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static string FindPackageDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "WebSockets.sln")))
            {
                return Path.Combine(directory.FullName, "src", "client-ts");
            }
        }

        throw new InvalidOperationException($"WebSockets.sln was not found above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"v(\d+)\.(\d+)")]
    private static partial Regex NodeVersion();
}

internal sealed record ProcessResult(string Command, int ExitCode, string Output)
{
    public ProcessResult EnsureSuccess()
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"'{Command}' exited with {ExitCode}. Its output:\n{Output}");
        }

        return this;
    }
}
