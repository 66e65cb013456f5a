using System.Text;
using System.Text.RegularExpressions;

namespace WebSockets.Tests.Docs;

/// <summary>
/// Keeps the C# in docs/*.md compiled. Each ```csharp block must follow a <c>&lt;!-- snippet: name --&gt;</c> comment
/// (several names, comma-separated, stand for their regions one after another), and must equal the
/// <c>#region name</c> of a .cs file under docs/snippets, a project that the solution builds with warnings as errors.
/// Blocks and regions are compared dedented, without trailing white space and without blank lines.
/// </summary>
public sealed partial class DocSnippetTests
{
    /// <summary>Pages that other people own; their C# is not compiled.</summary>
    private static readonly HashSet<string> s_exemptPages = new(StringComparer.Ordinal) { "protocol.md", "security.md", "performance.md" };

    [Fact]
    public void DocPages_EveryCSharpBlockIsMarkedAndMatchesItsCompiledRegion()
    {
        var root = FindRepositoryRoot();
        var regions = ReadRegions(Path.Combine(root, "docs", "snippets"), out var regionErrors);
        var failures = new List<string>(regionErrors);
        var pages = DocPages(root);
        Assert.NotEmpty(pages);
        foreach (var page in pages)
        {
            failures.AddRange(CheckPage(Path.GetFileName(page), File.ReadAllText(page), regions));
        }

        Assert.True(failures.Count == 0, "The docs' C# samples are out of step with docs/snippets:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void DocSnippets_EveryRegionIsShownInTheDocs()
    {
        var root = FindRepositoryRoot();
        var regions = ReadRegions(Path.Combine(root, "docs", "snippets"), out _);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var page in DocPages(root))
        {
            foreach (var block in ReadBlocks(File.ReadAllText(page)))
            {
                used.UnionWith(block.Snippets ?? []);
            }
        }

        var unused = regions.Keys.Where(name => !used.Contains(name)).Order(StringComparer.Ordinal).ToList();
        Assert.True(unused.Count == 0, "Regions under docs/snippets that no page shows (remove them or show them): " + string.Join(", ", unused));
    }

    [Fact]
    public void CheckPage_ReportsUnmarkedChangedAndMissingSnippets()
    {
        var regions = new Dictionary<string, Region>(StringComparer.Ordinal)
        {
            ["hello"] = new("hello", "Hello.cs", "var x = 1;\nif (x > 0)\n{\n    x++;\n}"),
        };

        // Indented differently, with blank lines: still the same.
        const string Same = "<!-- snippet: hello -->\n\n```csharp\n  var x = 1;\n\n  if (x > 0)\n  {\n      x++;\n  }\n```\n";
        Assert.Empty(CheckPage("same.md", Same, regions));

        const string Changed = "<!-- snippet: hello -->\n```csharp\nvar x = 2;\nif (x > 0)\n{\n    x++;\n}\n```\n";
        Assert.Contains(CheckPage("changed.md", Changed, regions), f => f.Contains("differs", StringComparison.Ordinal));

        const string Reindented = "<!-- snippet: hello -->\n```csharp\nvar x = 1;\nif (x > 0)\n{\nx++;\n}\n```\n";
        Assert.Contains(CheckPage("reindented.md", Reindented, regions), f => f.Contains("differs", StringComparison.Ordinal));

        const string Unmarked = "Some text.\n\n```csharp\nvar x = 1;\n```\n";
        Assert.Contains(CheckPage("unmarked.md", Unmarked, regions), f => f.Contains("not marked", StringComparison.Ordinal));

        const string Missing = "<!-- snippet: goodbye -->\n```csharp\nvar x = 1;\n```\n";
        Assert.Contains(CheckPage("missing.md", Missing, regions), f => f.Contains("no region", StringComparison.Ordinal));
    }

    private static List<string> DocPages(string root)
        => Directory.GetFiles(Path.Combine(root, "docs"), "*.md")
            .Where(path => !s_exemptPages.Contains(Path.GetFileName(path)))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static List<string> CheckPage(string page, string markdown, IReadOnlyDictionary<string, Region> regions)
    {
        var failures = new List<string>();
        foreach (var block in ReadBlocks(markdown))
        {
            var where = $"{page}:{block.Line}";
            if (block.Snippets is not { Length: > 0 } names)
            {
                failures.Add($"{where}: a ```csharp block that is not marked; put <!-- snippet: name --> before it and the code in a #region name under docs/snippets.");
                continue;
            }

            var expected = new List<string>();
            var complete = true;
            foreach (var name in names)
            {
                if (regions.TryGetValue(name, out var region))
                {
                    expected.AddRange(Normalize(region.Code));
                }
                else
                {
                    failures.Add($"{where}: snippet '{name}' names no region under docs/snippets.");
                    complete = false;
                }
            }

            var actual = Normalize(block.Code);
            if (complete && !actual.SequenceEqual(expected, StringComparer.Ordinal))
            {
                var index = Enumerable.Range(0, Math.Max(actual.Count, expected.Count))
                    .First(i => i >= actual.Count || i >= expected.Count || actual[i] != expected[i]);
                failures.Add($"{where}: the block differs from snippet '{string.Join(", ", names)}' at its line {index + 1}: "
                    + $"the page has '{(index < actual.Count ? actual[index] : "(end)")}', the region '{(index < expected.Count ? expected[index] : "(end)")}'.");
            }
        }

        return failures;
    }

    /// <summary>The ```csharp blocks of a page, each with the snippet names of the comment right before it, if any.</summary>
    private static List<Block> ReadBlocks(string markdown)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        var blocks = new List<Block>();
        string[]? pending = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (SnippetMarker().Match(line) is { Success: true } marker)
            {
                pending = marker.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                continue;
            }

            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                var language = line[3..].Trim();
                var start = i + 1;
                var end = start;
                while (end < lines.Length && !lines[end].Trim().StartsWith("```", StringComparison.Ordinal))
                {
                    end++;
                }

                if (language is "csharp" or "cs" or "c#")
                {
                    blocks.Add(new Block(start, pending, string.Join("\n", lines[start..Math.Min(end, lines.Length)])));
                }

                pending = null;
                i = end;
                continue;
            }

            if (line.Length > 0)
            {
                pending = null; // a marker applies only to the block right after it
            }
        }

        return blocks;
    }

    private static Dictionary<string, Region> ReadRegions(string directory, out List<string> errors)
    {
        errors = [];
        var regions = new Dictionary<string, Region>(StringComparer.Ordinal);
        var separator = Path.DirectorySeparatorChar;
        var files = Directory.GetFiles(directory, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{separator}obj{separator}", StringComparison.Ordinal) && !f.Contains($"{separator}bin{separator}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var name = Path.GetRelativePath(directory, file);
            var open = new Stack<(string Name, StringBuilder Code)>();
            foreach (var line in File.ReadAllText(file).ReplaceLineEndings("\n").Split('\n'))
            {
                var trimmed = line.Trim();
                if (trimmed.StartsWith("#region ", StringComparison.Ordinal))
                {
                    open.Push((trimmed["#region ".Length..].Trim(), new StringBuilder()));
                    continue;
                }

                if (trimmed.StartsWith("#endregion", StringComparison.Ordinal))
                {
                    if (open.Count == 0)
                    {
                        errors.Add($"{name}: #endregion without #region.");
                        continue;
                    }

                    var (regionName, code) = open.Pop();
                    if (!regions.TryAdd(regionName, new Region(regionName, name, code.ToString())))
                    {
                        errors.Add($"{name}: region '{regionName}' is also in {regions[regionName].File}; names must be unique.");
                    }

                    continue;
                }

                foreach (var (_, code) in open)
                {
                    code.Append(line).Append('\n');
                }
            }

            if (open.Count > 0)
            {
                errors.Add($"{name}: region '{open.Peek().Name}' has no #endregion.");
            }
        }

        return regions;
    }

    /// <summary>Lines without trailing white space, blank lines dropped, and the indentation they all share removed.</summary>
    private static List<string> Normalize(string code)
    {
        var lines = code.ReplaceLineEndings("\n").Split('\n')
            .Select(l => l.Replace("\t", "    ", StringComparison.Ordinal).TrimEnd())
            .Where(l => l.Length > 0)
            .ToList();
        var indent = lines.Count == 0 ? 0 : lines.Min(l => l.Length - l.TrimStart().Length);
        return lines.Select(l => l[indent..]).ToList();
    }

    private static string FindRepositoryRoot()
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

    [GeneratedRegex(@"^<!--\s*snippet:\s*(.+?)\s*-->$")]
    private static partial Regex SnippetMarker();

    private sealed record Block(int Line, string[]? Snippets, string Code);

    private sealed record Region(string Name, string File, string Code);
}
