using System.Text.RegularExpressions;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>
/// sdk/README.md walks a new adapter author through the sample. Its code must be the sample's
/// code and its YAML the sample's YAML, so that what the end-to-end test runs is what the guide
/// tells people to write.
/// </summary>
public sealed partial class GuideTests
{
    private static readonly string Guide = File.ReadAllText(Repository.File("sdk/README.md"));

    private static readonly string SampleDir = Repository.File("sdk/samples/Mixer.Samples.AuditAdapter");

    public static TheoryData<int> CSharpBlocks() => Indexes("csharp");

    public static TheoryData<int> ShellBlocks() => Indexes("sh");

    [Theory]
    [MemberData(nameof(CSharpBlocks))]
    public void GuideCSharpBlock_IsCodeOfTheSample(int index)
    {
        var block = Lines(Blocks("csharp")[index]);
        var sources = Directory.EnumerateFiles(SampleDir, "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains("/obj/", StringComparison.Ordinal) && !p.Contains("/bin/", StringComparison.Ordinal))
            .Select(p => (Path: p, Lines: Lines(File.ReadAllText(p))));

        sources.Any(s => ContainsRun(s.Lines, block)).ShouldBeTrue($"this block of sdk/README.md is not in the sample's code:\n{string.Join('\n', block)}");
    }

    [Fact]
    public void GuideYamlBlocks_AreTheSamplesConfigFiles_InOrder()
    {
        var blocks = Blocks("yaml");
        string[] files = ["adapter.yaml", "handler.yaml", "instance.yaml", "rule.yaml"];

        blocks.Count.ShouldBe(files.Length);
        for (var i = 0; i < files.Length; i++)
        {
            blocks[i].TrimEnd().ShouldBe(File.ReadAllText(Path.Combine(SampleDir, "config", files[i])).TrimEnd(), $"sdk/README.md's YAML block {i + 1} differs from config/{files[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(ShellBlocks))]
    public void GuideShellBlock_NamesPathsThatExist(int index)
    {
        foreach (Match m in RepositoryPath().Matches(Blocks("sh")[index]))
        {
            var path = m.Value.TrimEnd('/').Replace("/*.yaml", string.Empty, StringComparison.Ordinal);
            (File.Exists(Repository.File(path)) || Directory.Exists(Repository.File(path))).ShouldBeTrue($"sdk/README.md names {m.Value}, which is not in the repository");
        }
    }

    private static TheoryData<int> Indexes(string language)
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Blocks(language).Count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    private static List<string> Blocks(string language) =>
        Fence().Matches(Guide).Where(m => m.Groups["lang"].Value == language).Select(m => m.Groups["body"].Value).ToList();

    private static string[] Lines(string text) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();

    private static bool ContainsRun(string[] haystack, string[] needle)
    {
        for (var start = 0; start + needle.Length <= haystack.Length; start++)
        {
            if (haystack.AsSpan(start, needle.Length).SequenceEqual(needle))
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"^```(?<lang>\w+)\n(?<body>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();

    [GeneratedRegex(@"(?<![\w/])(?:sdk|mixer)/[\w./*-]+")]
    private static partial Regex RepositoryPath();
}

/// <summary>Files of the repository this test was built from.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string File(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !System.IO.File.Exists(Path.Combine(dir.FullName, "Mixer.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Mixer.sln not found above " + AppContext.BaseDirectory);
    }
}
