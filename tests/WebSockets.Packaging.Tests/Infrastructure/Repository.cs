using System.Reflection;

namespace WebSockets.Packaging.Tests.Infrastructure;

/// <summary>Where things are: the repository, and the configuration these tests (and so the src projects) were built in.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: the project references built the src projects in the configuration of these tests.</summary>
    public static string Configuration { get; } =
        typeof(Repository).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "WebSockets.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"WebSockets.sln was not found above {AppContext.BaseDirectory}.");
    }
}
