using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace WebSockets.Packaging.Tests.Infrastructure;

/// <summary>The outcome of a finished command: its exit code and its output, stdout and stderr interleaved.</summary>
internal sealed record CommandResult(string Command, int ExitCode, string Output)
{
    /// <summary>Throws with the command's output unless it exited 0.</summary>
    public CommandResult EnsureSuccess()
        => ExitCode == 0 ? this : throw new InvalidOperationException($"'{Command}' exited with {ExitCode}. Its output:\n{Output}");
}

/// <summary>Runs dotnet and npm as child processes, bounded by a timeout, with their output kept for failure messages.</summary>
internal static class Command
{
    public static string Npm => OperatingSystem.IsWindows() ? "npm.cmd" : "npm";

    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout, IDictionary<string, string?>? environment = null)
    {
        using var process = new Process { StartInfo = CreateStartInfo(fileName, arguments, workingDirectory, environment) };
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        var command = $"{fileName} {string.Join(' ', process.StartInfo.ArgumentList)}";
        Start(process, command);
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

        await process.WaitForExitAsync(); // drains the redirected streams
        return new CommandResult(command, process.ExitCode, Text(output));
    }

    /// <summary>
    /// The start info for a child dotnet or npm: MSBuild's variables from the test run are removed, so that the child is
    /// a fresh build, and the .NET CLI's first-run banners are off.
    /// </summary>
    public static ProcessStartInfo CreateStartInfo(string fileName, IEnumerable<string> arguments, string workingDirectory, IDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.Where(static k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        return start;
    }

    public static void Start(Process process, string command)
    {
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"Could not start '{command}': {e.Message}", e);
        }
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
}
