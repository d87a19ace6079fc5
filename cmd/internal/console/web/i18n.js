// The console's words: Chinese first, English second.
const words = {
  zh: {
    title: '吹哨报到 控制台', signIn: '登录', signOut: '退出', pickUser: '选择示例用户（开发环境）：', withToken: '使用令牌登录',
    cityAccount: '使用城市统一身份登录',
    cityNotFinished: '城市统一身份登录未完成，请重新登录',
    pasteToken: '粘贴统一身份认证签发的令牌', orgUnit: '所属单位编码', scorecard: '考核看板', inbox: '待办工单', rankings: '排名',
    refresh: '刷新', unit: '单位', month: '本月', week: '本周', day: '今日', streets: '街道', communities: '社区', departments: '部门',
    districts: '区县', rank: '名次', ratio: '分子 / 分母', open: '未办结', overdue: '已超期', updatedAt: '更新于 ', none: '暂无',
    number: '工单号', title2: '标题', status: '状态', deadline: '时限', level: '督办', description: '描述', supervision: '督办',
    hours: '小时', minutes: '分钟', left: '剩余 ', overdueBy: '已超 ', accept: '受理（报到）', resolve: '办结', assists: '协办部门',
    department: '部门', reported: '已反馈', waiting: '待反馈', resultPlaceholder: '办理结果', timeline: '处理过程',
    exportCSV: '导出 CSV', board: '超期督办', hotspots: '热点', map: '地图', report: '月度报告', matter: '事项', stage: '环节',
    escalations: '督办统计', connecting: '连接中…', live: '● 实时', reconnecting: '重新连接中…', detected: '发现时间', rule: '规则',
    explanation: '说明', tickets: '工单数', proactive: '主动工单', noCentres: '目录中没有网格中心坐标，无法绘制地图。',
    mapLegend: '圆点为网格，大小表示未办结工单数；红色为热点所在网格；小黑点为有坐标的未办结工单。', print: '打印', topProblems: '每月一题候选', count: '本月',
    previous: '上月', share: '占比', progressPlaceholder: '进展说明 / 延期或退回理由', moreActions: '其他操作', addProgress: '添加进展',
    askExtension: '申请延期', returnIt: '退回', reason_NOT_OUR_JURISDICTION: '不属于本部门职责', reason_UNCLEAR_OWNERSHIP: '权属不清',
    reason_OVERLAPPING_DUTIES: '职责交叉', reason_INSUFFICIENT_INFORMATION: '信息不足',
    allOpen: '全部状态', allMatters: '全部事项', overdueOnly: '只看超期', supervisedOnly: '只看督办',
    photos: '照片', change: '较上期', newInRanking: '新上榜',
    trend: '趋势', byWeek: '按周', byMonth: '按月', stage_accept: '受理', stage_resolve: '办结',
    satisfactionGap: '评价满意率远高于回访满意率：请核查评价', clusters: '时空扫描发现的聚集（按强度）', observed: '实际/期望', pValue: 'p 值',
  },
  en: {
    title: 'Whistle console', signIn: 'Sign in', signOut: 'Sign out', pickUser: 'Pick a sample user (development):', withToken: 'Sign in with a token',
    cityAccount: "Sign in with the city's account",
    cityNotFinished: "The sign-in with the city's account did not finish: sign in again",
    pasteToken: "Paste a token from the city's identity provider", orgUnit: 'Org unit id', scorecard: 'Scorecard', inbox: 'Inbox', rankings: 'Rankings',
    refresh: 'Refresh', unit: 'Unit', month: 'This month', week: 'This week', day: 'Today', streets: 'Streets', communities: 'Communities',
    departments: 'Departments', districts: 'Districts', rank: 'Rank', ratio: 'Numerator / denominator', open: 'Open', overdue: 'Overdue',
    updatedAt: 'Updated ', none: 'None', number: 'Number', title2: 'Title', status: 'Status', deadline: 'Deadline', level: 'Supervision',
    description: 'Description', supervision: 'Level ', hours: 'h ', minutes: 'min', left: '', overdueBy: 'overdue by ', accept: 'Accept',
    resolve: 'Resolve', assists: 'Assisting departments', department: 'Department', reported: 'reported', waiting: 'waiting',
    resultPlaceholder: 'What was done', timeline: 'Timeline',
    exportCSV: 'Export CSV', board: 'Overdue board', hotspots: 'Hot spots', map: 'Map', report: 'Monthly report', matter: 'Matter',
    stage: 'Stage', escalations: 'Escalations', connecting: 'connecting…', live: '● live', reconnecting: 'reconnecting…', detected: 'Detected',
    rule: 'Rule', explanation: 'Explanation', tickets: 'Tickets', proactive: 'Proactive ticket',
    noCentres: 'The catalog gives no grid centres: no map to draw.', mapLegend: 'Each dot is a grid, sized by its open tickets; red ones have a hot spot; small black dots are open tickets with coordinates.',
    print: 'Print', topProblems: 'Top problems (每月一题 candidates)', count: 'This month', previous: 'Last month', share: 'Share',
    progressPlaceholder: 'Progress note / reason for an extension or a return', moreActions: 'More', addProgress: 'Add progress',
    askExtension: 'Ask for an extension', returnIt: 'Return', reason_NOT_OUR_JURISDICTION: 'Not our jurisdiction',
    reason_UNCLEAR_OWNERSHIP: 'Unclear ownership', reason_OVERLAPPING_DUTIES: 'Overlapping duties', reason_INSUFFICIENT_INFORMATION: 'Too little information',
    allOpen: 'Any status', allMatters: 'Any matter', overdueOnly: 'overdue only', supervisedOnly: 'supervised only',
    photos: 'Photos', change: 'Change', newInRanking: 'new',
    trend: 'Trend', byWeek: 'By week', byMonth: 'By month', stage_accept: 'accept', stage_resolve: 'resolve',
    satisfactionGap: 'The evaluated satisfaction is far above the call-backs\' : check the evaluations',
    clusters: 'Clusters the space-time scan found, strongest first', observed: 'Observed / expected', pValue: 'p-value',
  },
};

const figures = {
  zh: { response_rate: '响应率', resolution_rate: '解决率', on_time_resolution_rate: '按时办结率', closing_rate: '办结率',
    satisfaction_rate: '满意率', rework_rate: '重办率', default_close_rate: '默认办结率', stayed_resolved_rate: '办结不反弹率',
    audited_satisfaction_rate: '回访满意率', repeated: '反弹' },
  en: { response_rate: 'Response rate', resolution_rate: 'Resolution rate', on_time_resolution_rate: 'On-time resolution',
    closing_rate: 'Closing rate', satisfaction_rate: 'Satisfaction', rework_rate: 'Rework rate', default_close_rate: 'Closed by default',
    stayed_resolved_rate: 'Stayed resolved', audited_satisfaction_rate: 'Satisfaction (call-backs)', repeated: 'Repeated' },
};

const statuses = {
  zh: { REPORTED: '已上报', TRIAGE: '待分拨', DISPATCHED: '已派单', ACCEPTED: '办理中', RESOLVED: '已办结', CLOSED: '已关闭',
    RETURNED: '已退回', REOPENED: '重办中', MERGED: '已合并', CANCELLED: '已撤销' },
  en: { REPORTED: 'Reported', TRIAGE: 'Triage', DISPATCHED: 'Dispatched', ACCEPTED: 'Accepted', RESOLVED: 'Resolved', CLOSED: 'Closed',
    RETURNED: 'Returned', REOPENED: 'Reopened', MERGED: 'Merged', CANCELLED: 'Cancelled' },
};

const roles = {
  zh: { reporter: '网格员', community_officer: '社区书记', street_officer: '街道干部', department_handler: '部门承办人',
    department_lead: '部门负责人', monitor: '领导（监督）', admin: '管理员', system: '外部系统' },
  en: { reporter: 'Grid worker', community_officer: 'Community officer', street_officer: 'Street officer', department_handler: 'Department handler',
    department_lead: 'Department lead', monitor: 'Leader (monitor)', admin: 'Administrator', system: 'Another system' },
};

let current = localStorage.getItem('whistle.lang') === 'en' ? 'en' : 'zh';

export const lang = () => current;
export function setLang(l) { current = l; localStorage.setItem('whistle.lang', l); document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en'; }
export const t = (k) => words[current][k] ?? words.zh[k] ?? k;
export const figureName = (f) => figures[current][f] ?? f;
export const statusName = (s) => statuses[current][String(s || '').replace('TICKET_STATUS_', '')] ?? s;
export const roleName = (r) => roles[current][r] ?? r;
