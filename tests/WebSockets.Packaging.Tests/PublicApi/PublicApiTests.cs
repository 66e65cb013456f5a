using System.Reflection;
using System.Text;
using Microsoft.AspNetCore.Builder;
using WebSockets.Client;
using WebSockets.Packaging.Tests.Infrastructure;
using WebSockets.Redis;

namespace WebSockets.Packaging.Tests.PublicApi;

/// <summary>
/// Each shipping assembly's public surface must match its committed baseline, src/&lt;Project&gt;/PublicAPI.txt, so that
/// no change to the public API goes unreviewed. PublicApiAnalyzers would do this at build time; it is not on this
/// machine's package feed, so this test does the same from the built assembly, by reflection.
/// </summary>
public sealed class PublicApiTests
{
    /// <summary>Set to 1 to rewrite the baselines from the assemblies instead of comparing them.</summary>
    public const string UpdateVariable = "UPDATE_PUBLIC_API";

    public static TheoryData<string> Projects => ["WebSockets", "WebSockets.Redis", "WebSockets.Client"];

    [Theory]
    [MemberData(nameof(Projects))]
    public void PublicApi_MatchesBaseline(string project)
    {
        var assembly = AssemblyOf(project);
        var actual = PublicApiFormatter.Format(assembly);
        var baselinePath = Repository.PathOf("src", project, "PublicAPI.txt");
        var text = Header(project) + string.Join("\n", actual) + "\n";

        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(baselinePath, text);
            return;
        }

        Assert.True(File.Exists(baselinePath), $"{baselinePath} is missing. {HowToUpdate(project)}");
        var expected = File.ReadAllLines(baselinePath).Where(static l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var removed = expected.Except(actual, StringComparer.Ordinal).ToList();
        var added = actual.Except(expected, StringComparer.Ordinal).ToList();
        if (removed.Count == 0 && added.Count == 0)
        {
            return;
        }

        var message = new StringBuilder($"The public API of {project} differs from {Path.GetRelativePath(Repository.Root, baselinePath)}.\n");
        if (removed.Count > 0)
        {
            message.Append("Removed or changed (a breaking change for callers):\n").AppendJoin('\n', removed.Select(static l => "- " + l)).Append('\n');
        }

        if (added.Count > 0)
        {
            message.Append("Added:\n").AppendJoin('\n', added.Select(static l => "+ " + l)).Append('\n');
        }

        message.Append(HowToUpdate(project));
        Assert.Fail(message.ToString());
    }

    [Fact]
    public void Formatter_WritesNullabilityDefaultsAndTrimAnnotations()
    {
        var api = PublicApiFormatter.Format(typeof(ISocketRegistry).Assembly);

        Assert.Contains("static WebSockets.SocketMessage.Json<T>(T value, System.Text.Json.JsonSerializerOptions? options = null) -> WebSockets.SocketMessage", api);
        Assert.Contains(api, static l => l.StartsWith("[RequiresDynamicCode] [RequiresUnreferencedCode] static Microsoft.AspNetCore.Builder.WebSocketEndpointRouteBuilderExtensions.MapWebSocketEndpoint(this ", StringComparison.Ordinal));
        Assert.Contains(api, static l => l.StartsWith("WebSockets.SocketNamespaceBuilder.On<TData>(string eventName, System.Func<WebSockets.ISocketConnection, TData, System.Threading.CancellationToken, System.Threading.Tasks.Task> handler)", StringComparison.Ordinal));
        Assert.Equal(api.Order(StringComparer.Ordinal), api.OrderBy(static l => l, StringComparer.Ordinal)); // sorted, deterministic
        Assert.Equal(api, PublicApiFormatter.Format(typeof(ISocketRegistry).Assembly));
    }

    private static Assembly AssemblyOf(string project) => project switch
    {
        "WebSockets" => typeof(WebSocketEndpointRouteBuilderExtensions).Assembly,
        "WebSockets.Redis" => typeof(RedisBackplaneOptions).Assembly,
        "WebSockets.Client" => typeof(SocketClient).Assembly,
        _ => throw new ArgumentOutOfRangeException(nameof(project), project, null),
    };

    private static string Header(string project) =>
        $"# The public API of {project}: one line per public type and member, sorted, written by tests/WebSockets.Packaging.Tests.\n" +
        $"# Don't edit by hand: after an intended API change, run\n" +
        $"#   {UpdateVariable}=1 dotnet test tests/WebSockets.Packaging.Tests --filter FullyQualifiedName~PublicApi\n" +
        "# and review the diff. A removed or changed line breaks callers.\n";

    private static string HowToUpdate(string project) =>
        $"If the change is intended, rewrite the baseline with\n  {UpdateVariable}=1 dotnet test tests/WebSockets.Packaging.Tests -c {Repository.Configuration} --filter FullyQualifiedName~PublicApi\n" +
        $"then review and commit the diff of src/{project}/PublicAPI.txt.";
}
