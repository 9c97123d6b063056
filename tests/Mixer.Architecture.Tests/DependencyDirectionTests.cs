using System.Xml.Linq;

namespace Mixer.Architecture.Tests;

/// <summary>
/// Dependencies point one way (STYLE.md): wire contracts depend on nothing, the SDK on the wire,
/// the language on the SDK, adapters and runtime on the SDK, client and proxy on the wire only,
/// and nothing but tests on the servers or the CLI. A forbidden arrow fails here, naming it.
/// </summary>
public sealed class DependencyDirectionTests
{
    // Project -> the projects it may reference directly. Projects not listed may reference
    // anything not in Forbidden. Adapters are matched by prefix.
    private static readonly Dictionary<string, string[]> s_allowed = new()
    {
        ["Mixer.Api"] = [],
        ["Mixer.Sdk"] = ["Mixer.Api"],
        ["Mixer.Lang"] = ["Mixer.Sdk"],
        ["Mixer.Runtime"] = ["Mixer.Sdk", "Mixer.Lang"],
        ["Mixer.Client"] = ["Mixer.Api"],
        ["Mixer.Adapters."] = ["Mixer.Sdk", "Mixer.Api"],
        ["Mixer.Proxy"] = ["Mixer.Api", "Mixer.Client", "Pilot.Api", "Citadel.Api"],
        ["Mixer.Sdk.OutOfProcess"] = ["Mixer.Sdk", "Mixer.Api"],
        ["Pilot.Api"] = [],
        ["Citadel.Api"] = [],
    };

    // Only tests (and benchmarks) may reference these.
    private static readonly string[] s_onlyTestsReference = ["Mixer.Server", "Mixer.Cli", "Pilot", "Citadel"];

    public static TheoryData<string> Projects()
    {
        var data = new TheoryData<string>();
        foreach (var p in ProductProjects())
        {
            data.Add(Path.GetFileNameWithoutExtension(p));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Project_References_FollowTheDependencyDirection(string project)
    {
        var path = ProductProjects().Single(p => Path.GetFileNameWithoutExtension(p) == project);
        var references = References(path);
        var rule = s_allowed.FirstOrDefault(kv => kv.Key == project || (kv.Key.EndsWith('.') && project.StartsWith(kv.Key, StringComparison.Ordinal)));

        foreach (var reference in references)
        {
            if (rule.Value is not null)
            {
                rule.Value.ShouldContain(reference, $"{project} must not reference {reference} (allowed: {string.Join(", ", rule.Value)})");
            }

            s_onlyTestsReference.ShouldNotContain(reference, $"{project} references {reference}: nothing but tests may depend on it");
        }
    }

    [Fact]
    public void Solution_HoldsEveryProjectInTheTree()
    {
        var sln = File.ReadAllText(Path.Combine(Root, "Mixer.sln"));
        foreach (var p in Directory.EnumerateFiles(Root, "*.csproj", SearchOption.AllDirectories).Where(p => !p.Contains("/bin/") && !p.Contains("/obj/")))
        {
            sln.ShouldContain(Path.GetFileName(p), customMessage: $"{Path.GetRelativePath(Root, p)} is not in Mixer.sln");
        }
    }

    private static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mixer.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Mixer.sln not found above the test directory");
        }
    }

    private static IEnumerable<string> ProductProjects() =>
        Directory.EnumerateFiles(Root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Contains("/bin/") && !p.Contains("/obj/"))
            .Where(p => !Path.GetRelativePath(Root, p).StartsWith("tests", StringComparison.Ordinal));

    private static IEnumerable<string> References(string csproj) =>
        XDocument.Load(csproj).Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/')));
}
