# Parses PowerShell scripts with PowerShell's own parser and reports, per file, parse errors and what
# Windows PowerShell 5.1 (what runs on the guests and on Hyper-V hosts) lacks, found in the syntax
# tree rather than by searching text: the ternary operator, pipeline chains (&& ||), null-coalescing
# (?? ??=), null-conditional member and index access (?. ?[]), `clean` blocks, and the parameters and
# values only PowerShell 7 accepts (ConvertFrom-Json -AsHashtable / -Depth, -Encoding utf8NoBOM,
# ForEach-Object -Parallel, Get-Content -AsByteStream). Paths come one per line on stdin; one JSON line
# per finding goes out: {"file":..,"line":..,"column":..,"what":..}.
$ErrorActionPreference = 'Stop'

function Out-Finding($File, $Extent, [string]$What) {
  [pscustomobject]@{ file = $File; line = $Extent.StartLineNumber; column = $Extent.StartColumnNumber; what = $What } |
    ConvertTo-Json -Compress
}

# Parameters PowerShell 7 added to cmdlets 5.1 also has: a 5.1 script using them fails at run time.
$SevenOnlyParameters = @{
  'ConvertFrom-Json' = @('AsHashtable', 'Depth', 'NoEnumerate')
  'ForEach-Object'   = @('Parallel', 'ThrottleLimit', 'TimeoutSeconds')
  'Get-Content'      = @('AsByteStream')
  'Set-Content'      = @('AsByteStream')
  'Add-Content'      = @('AsByteStream')
  'Test-Json'        = @('Json')
  'Join-String'      = @('Separator')
}
$SevenOnlyCommands = @('Test-Json', 'Join-String', 'Get-Error', 'ConvertTo-CliXml')

foreach ($file in [Console]::In.ReadToEnd() -split "`n") {
  $file = $file.Trim()
  if ($file -eq '') { continue }
  $tokens = $null
  $errors = $null
  $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$tokens, [ref]$errors)
  foreach ($e in $errors) { Out-Finding $file $e.Extent "parse error: $($e.Message)" }

  $nodes = $ast.FindAll({ $true }, $true)
  foreach ($n in $nodes) {
    $type = $n.GetType().Name
    if ($type -eq 'TernaryExpressionAst') { Out-Finding $file $n.Extent 'the ternary operator (a ? b : c) is PowerShell 7 only' }
    elseif ($type -eq 'PipelineChainAst') { Out-Finding $file $n.Extent 'pipeline chains (&& and ||) are PowerShell 7 only' }
    elseif ($type -eq 'BinaryExpressionAst' -and "$($n.Operator)" -eq 'QuestionQuestion') { Out-Finding $file $n.Extent 'the null-coalescing operator ?? is PowerShell 7 only' }
    elseif ($type -eq 'AssignmentStatementAst' -and "$($n.Operator)" -eq 'QuestionQuestionEquals') { Out-Finding $file $n.Extent 'the ??= operator is PowerShell 7 only' }
    elseif (($type -eq 'MemberExpressionAst' -or $type -eq 'InvokeMemberExpressionAst' -or $type -eq 'IndexExpressionAst') -and $n.NullConditional) { Out-Finding $file $n.Extent 'null-conditional access (?. and ?[]) is PowerShell 7 only' }
    elseif ($type -eq 'NamedBlockAst' -and "$($n.BlockKind)" -eq 'Clean') { Out-Finding $file $n.Extent 'clean blocks are PowerShell 7.3 and later' }
    elseif ($type -eq 'CommandAst') {
      $name = $n.GetCommandName()
      if ($null -eq $name) { continue }
      if ($SevenOnlyCommands -contains $name) { Out-Finding $file $n.Extent "$name is PowerShell 7 only" }
      $params = $SevenOnlyParameters[$name]
      foreach ($el in $n.CommandElements) {
        if ($el -is [System.Management.Automation.Language.CommandParameterAst]) {
          if ($params -and ($params -contains $el.ParameterName)) { Out-Finding $file $el.Extent "$name -$($el.ParameterName) is PowerShell 7 only" }
        }
      }
    }
    elseif ($type -eq 'StringConstantExpressionAst' -and $n.Value -match '^(utf8NoBOM|utf8BOM)$') {
      Out-Finding $file $n.Extent "the encoding name $($n.Value) is PowerShell 7 only (5.1 has UTF8, with a BOM)"
    }
  }
}
