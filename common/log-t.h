/*
 * log-t.h: the error log's levels, which are also the values of the
 * config's log.level (cfg-t.h).
 */
#ifndef SHUNT_LOG_T_H
#define SHUNT_LOG_T_H

enum cfg_log_level {
	CFG_LOG_ERROR = 0,
	CFG_LOG_WARN,
	CFG_LOG_INFO,
	CFG_LOG_DEBUG,
};

#endif /* SHUNT_LOG_T_H */
