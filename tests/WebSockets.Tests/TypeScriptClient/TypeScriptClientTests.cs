using System.Text.Json;
using WebSockets.Tests.Infrastructure;
using Xunit.Abstractions;

namespace WebSockets.Tests.TypeScriptClient;

/// <summary>
/// Builds the TypeScript client (src/client-ts) with tsc, type tests included, and runs its node tests against a real
/// Kestrel server built with this library (<see cref="TypeScriptClientServer"/>).
/// </summary>
public sealed class TypeScriptClientTests(ITestOutputHelper output)
{
    [Fact]
    public async Task NodeTests_PassAgainstRealServer()
    {
        var node = await NodeRunner.RequireNodeAsync();
        await NodeRunner.EnsureInstalledAsync();
        (await NodeRunner.RunAsync(NodeRunner.Npm, ["run", "build"], TimeSpan.FromMinutes(3))).EnsureSuccess();

        var tests = Directory.GetFiles(Path.Combine(NodeRunner.PackageDirectory, "test-dist"), "*.test.js")
            .Select(f => Path.GetRelativePath(NodeRunner.PackageDirectory, f))
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.NotEmpty(tests);

        await using var host = await TypeScriptClientServer.StartAsync();
        var url = new UriBuilder(host.BaseUri) { Scheme = "ws" }.Uri.ToString().TrimEnd('/');
        string[] arguments = [.. node.Major < 22 ? ["--experimental-websocket"] : Array.Empty<string>(), "--test", "--test-reporter=spec", .. tests];
        var run = await NodeRunner.RunAsync("node", arguments, TimeSpan.FromMinutes(2), new Dictionary<string, string> { ["WS_SERVER_URL"] = url });

        output.WriteLine(run.Output);
        Assert.True(run.ExitCode == 0, $"'{run.Command}' exited with {run.ExitCode} against {url}. Its output:\n{run.Output}");
        Assert.Contains("fail 0", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NpmPack_ShipsTheCompiledModuleAndDeclarationsOnly()
    {
        await NodeRunner.RequireNodeAsync();
        await NodeRunner.EnsureInstalledAsync();
        var pack = (await NodeRunner.RunAsync(NodeRunner.Npm, ["pack", "--dry-run", "--json", "--ignore-scripts=false"], TimeSpan.FromMinutes(3))).EnsureSuccess();

        // npm prints the JSON report on stdout, its script output and warnings around it.
        var json = pack.Output[pack.Output.IndexOf("[\n", StringComparison.Ordinal)..(pack.Output.LastIndexOf(']') + 1)];
        using var report = JsonDocument.Parse(json);
        var package = report.RootElement[0];
        Assert.Equal("aspnetcore-websockets-client", package.GetProperty("name").GetString());
        var files = package.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()!).ToHashSet(StringComparer.Ordinal);
        output.WriteLine(string.Join('\n', files.Order(StringComparer.Ordinal)));
        Assert.Contains("package.json", files);
        Assert.Contains("README.md", files);
        Assert.Contains("dist/index.js", files);
        Assert.Contains("dist/index.d.ts", files);
        Assert.Contains("dist/client.js", files);
        Assert.DoesNotContain(files, f => f.StartsWith("test", StringComparison.Ordinal) || f.StartsWith("node_modules", StringComparison.Ordinal));
    }
}
